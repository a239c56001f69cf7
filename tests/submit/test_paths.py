"""User strings never take a submission outside the submissions folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.errors import ToolkitError
from toolkit.submit import safe_name, submissions_root
from toolkit.submit.paths import submission_paths


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("../../etc/x", "etc-x"),
        ("/etc/x", "etc-x"),
        ("my model v2", "my-model-v2"),
        ("a/../../b", "a-b"),
        ("..hidden", "hidden"),
        ("ok_name-1.2", "ok_name-1.2"),
        ("C:\\Windows\\x", "C-Windows-x"),
    ],
)
def test_names_are_reduced_to_safe_characters(text: str, safe: str) -> None:
    assert safe_name(text) == safe


@pytest.mark.parametrize("text", ["", "..", "/", "../..", "   ", "///", "é"])
def test_names_with_nothing_usable_are_refused(text: str) -> None:
    with pytest.raises(ToolkitError, match="no usable characters"):
        safe_name(text)


@pytest.mark.parametrize("name", ["../../etc/x", "/etc/x", "../" * 20 + "x", "~/x", "a\x00b"])
@pytest.mark.parametrize("competition", ["digits", "../../up", "/abs/olute"])
def test_paths_stay_inside_the_root(name: str, competition: str, tmp_path: Path) -> None:
    root = tmp_path / "subs"
    csv_path, json_path = submission_paths(competition, name, root, now=0)
    for path in (csv_path, json_path):
        assert path.resolve().is_relative_to(root.resolve())
        assert path.parent.parent == root
    assert csv_path.suffix == ".csv" and json_path == csv_path.with_suffix(".json")


def test_the_root_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLKIT_SUBMISSIONS", str(tmp_path / "elsewhere"))
    assert submissions_root() == tmp_path / "elsewhere"
    monkeypatch.delenv("TOOLKIT_SUBMISSIONS")
    assert submissions_root() == Path("submissions")
