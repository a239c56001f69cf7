"""Finding study files (a path, ``studies/NAME.toml``, a shipped example) and ``new_study``."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from toolkit.errors import ToolkitError
from toolkit.tune import load_spec
from toolkit.tune.study_files import example_names, examples_dir, find_study, new_study

SHIPPED = Path(__file__).resolve().parents[2] / "toolkit" / "studies"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_examples_are_the_package_data() -> None:
    assert example_names() == sorted(p.stem for p in SHIPPED.glob("*.toml"))
    assert {"compare", "finetune", "assignment-triplet"} <= set(example_names())
    assert Path(str(examples_dir())).resolve() == SHIPPED.resolve()


@pytest.mark.parametrize("ref", ["compare", "compare.toml", "studies/compare.toml"])
def test_a_name_falls_back_to_the_shipped_example(here: Path, ref: str) -> None:
    found = find_study(ref)
    assert Path(str(found)).resolve() == (SHIPPED / "compare.toml").resolve()
    spec = load_spec(ref)
    assert spec.name == "compare" and len(spec.pipelines) == 2
    assert spec == load_spec(SHIPPED / "compare.toml")
    assert not list(here.iterdir())  # looking a study up writes nothing


def test_studies_in_the_working_folder_win_over_the_examples(here: Path) -> None:
    local = here / "studies" / "compare.toml"
    local.parent.mkdir()
    text = (SHIPPED / "compare.toml").read_text().replace("trials = 12", "trials = 2")
    local.write_text(text)
    for ref in ("compare", "compare.toml", "studies/compare.toml"):
        assert find_study(ref) == Path("studies/compare.toml")
        assert load_spec(ref).trials == 2
    assert load_spec("finetune").trials == 20  # the other names still reach the examples


def test_an_existing_path_is_taken_as_it_is(here: Path) -> None:
    elsewhere = here / "mine" / "finetune.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text((SHIPPED / "compare.toml").read_text())
    assert find_study(elsewhere) == elsewhere
    assert len(load_spec(str(elsewhere)).pipelines) == 2  # the file, not the example's one


@pytest.mark.parametrize(
    ("ref", "expect"),
    [
        ("nosuch", "study file nosuch does not exist"),
        ("studies/nosuch.toml", "study file studies/nosuch.toml does not exist"),
        ("other/compare.toml", "study file other/compare.toml does not exist"),  # a path only
        ("/no/where/compare.toml", "study file /no/where/compare.toml does not exist"),
    ],
)
def test_a_missing_study_is_one_line_naming_the_examples(
    here: Path, ref: str, expect: str
) -> None:
    with pytest.raises(ToolkitError) as info:
        load_spec(ref)
    message = str(info.value)
    assert message.startswith(expect) and "\n" not in message
    assert "assignment-triplet, compare, finetune" in message and "tk study new" in message


def test_a_folder_is_not_a_study_file(here: Path) -> None:
    (here / "somewhere").mkdir()
    with pytest.raises(ToolkitError, match="somewhere is a folder"):
        find_study("somewhere")
    (here / "finetune").mkdir()  # a folder named like an example: the example is meant
    assert Path(str(find_study("finetune"))).resolve() == (SHIPPED / "finetune.toml").resolve()


def test_new_study_copies_an_example_to_edit(here: Path) -> None:
    path = new_study("mine", "finetune")
    assert path == Path("studies/mine.toml") and path.is_file()
    text = path.read_text()
    assert "tk tune studies/mine.toml path/to/competition" in text
    assert "tk study new" not in text and "tk tune finetune" not in text
    shipped = (SHIPPED / "finetune.toml").read_text()
    body = shipped[shipped.index("[study]") :]
    assert text.endswith(body)  # the settings are the example's, byte for byte
    example = load_spec(SHIPPED / "finetune.toml")
    assert load_spec("mine") == dataclasses.replace(example, name="mine", source=str(path))
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_new_study_defaults_to_compare_and_copies_a_copy(here: Path) -> None:
    assert new_study("a.toml") == Path("studies/a.toml")  # ".toml" is not doubled
    assert load_spec("a").pipelines == load_spec(SHIPPED / "compare.toml").pipelines
    new_study("b", "a")  # from the working folder's studies/a.toml
    assert "tk tune studies/b.toml path/to/competition" in Path("studies/b.toml").read_text()


def test_new_study_never_overwrites(here: Path) -> None:
    path = new_study("mine")
    path.write_text("# my edits\n")
    with pytest.raises(ToolkitError, match=r"studies/mine\.toml already exists"):
        new_study("mine", "finetune")
    assert path.read_text() == "# my edits\n"


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "x y"])
def test_new_study_takes_a_plain_name_only(here: Path, name: str) -> None:
    with pytest.raises(ToolkitError, match="is not a plain name"):
        new_study(name)
    assert not list(here.iterdir())


def test_new_study_from_a_missing_study_writes_nothing(here: Path) -> None:
    with pytest.raises(ToolkitError, match="study file nosuch does not exist"):
        new_study("mine", "nosuch")
    assert not list(here.iterdir())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
