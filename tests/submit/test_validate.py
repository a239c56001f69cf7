"""Every validation rule: a failing case caught by the validator and by the writer (no file)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from toolkit.errors import ToolkitError
from toolkit.submit import expected_format, validate_submission
from toolkit.submit import write as write_mod
from toolkit.submit.write import format_csv, write_submission

from ._fakes import fake_competition

IDS = ["1", "2", "007"]  # as the sample writes them
GOOD = [["1", "0"], ["2", "3"], ["007", "1"]]

# rule name (as the error message starts) -> (header, rows) breaking only that rule
BAD: dict[str, tuple[list[str], list[list[str]]]] = {
    "empty file": ([], []),
    "wrong header": (["ID", "label"], GOOD),
    "wrong column order": (["label", "id"], [[lab, i] for i, lab in GOOD]),
    "extra column": (["id", "label", "score"], [[*r, "0.5"] for r in GOOD]),
    "missing column": (["id"], [[r[0]] for r in GOOD]),
    "row width": (["id", "label"], [*GOOD[:2], ["007", "1", "x"]]),
    "empty value": (["id", "label"], [*GOOD[:2], ["007", ""]]),
    "duplicate id": (["id", "label"], [*GOOD, ["2", "1"]]),
    "extra id": (["id", "label"], [*GOOD, ["9", "1"]]),
    "missing id": (["id", "label"], GOOD[:2]),
    "unknown label": (["id", "label"], [*GOOD[:2], ["007", "dog"]]),
    "label form": (["id", "label"], [*GOOD[:2], ["007", "3.0"]]),
}


@pytest.fixture
def comp(tmp_path: Path):
    return fake_competition(tmp_path / "comp", ids=IDS, classes=[0, 1, 3])


def write_text(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text(format_csv(header, rows) if header else "", encoding="utf-8")
    return path


def test_a_good_file_passes(comp, tmp_path: Path) -> None:
    validate_submission(write_text(tmp_path / "ok.csv", ["id", "label"], GOOD), comp)
    validate_submission(pd.DataFrame(GOOD, columns=["id", "label"]), comp)


def test_the_order_of_rows_is_free(comp, tmp_path: Path) -> None:
    validate_submission(write_text(tmp_path / "ok.csv", ["id", "label"], GOOD[::-1]), comp)


@pytest.mark.parametrize("rule", sorted(BAD))
def test_each_rule_is_caught_in_a_file(rule: str, comp, tmp_path: Path) -> None:
    header, rows = BAD[rule]
    path = write_text(tmp_path / "bad.csv", header, rows)
    with pytest.raises(ToolkitError) as info:
        validate_submission(path, comp)
    message = str(info.value)
    assert message.startswith(f"{rule}:"), message
    assert "\n" not in message


@pytest.mark.parametrize("rule", sorted(BAD))
def test_the_writer_refuses_each_broken_rule_and_writes_nothing(
    rule: str, comp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    header, rows = BAD[rule]
    monkeypatch.setattr(
        write_mod, "format_csv", lambda *_: format_csv(header, rows) if header else ""
    )
    out = tmp_path / "out"
    target = out / "sub.csv"
    labels = [r[1] for r in GOOD]
    with pytest.raises(ToolkitError, match=f"^{rule}:"):
        write_submission(target, IDS, labels, expected_format(comp))
    assert not out.exists() or list(out.iterdir()) == []


def test_the_writer_catches_bad_labels_it_is_given(comp, tmp_path: Path) -> None:
    expected = expected_format(comp)
    for labels, rule in (
        (["0", "3", "3.0"], "label form"),
        (["0", "3", "7"], "unknown label"),
        (["0", "3", ""], "empty value"),
    ):
        with pytest.raises(ToolkitError, match=f"^{rule}:"):
            write_submission(tmp_path / "s.csv", IDS, labels, expected)
    with pytest.raises(ToolkitError, match=r"^duplicate id:"):
        write_submission(tmp_path / "s.csv", ["1", "2", "2"], ["0", "0", "0"], expected)
    assert list(tmp_path.glob("s.csv*")) == [] and list(tmp_path.glob(".s.csv*")) == []


def test_ids_keep_their_textual_form(comp, tmp_path: Path) -> None:
    rows = [["1", "0"], ["2", "3"], ["7", "1"]]  # 7 instead of the sample's 007
    with pytest.raises(ToolkitError, match=r"extra id: .*'7'.*sample writes it '007'"):
        validate_submission(write_text(tmp_path / "s.csv", ["id", "label"], rows), comp)


def test_a_frame_with_float_or_missing_labels_is_refused(comp) -> None:
    floats = pd.DataFrame({"id": ["1", "2", "007"], "label": [0.0, 3.0, 1.0]})
    with pytest.raises(ToolkitError, match=r"^label form: .*'0.0'.*'0'"):
        validate_submission(floats, comp)
    missing = pd.DataFrame({"id": ["1", "2", "007"], "label": [0, None, 1]})
    with pytest.raises(ToolkitError, match=r"^empty value:"):
        validate_submission(missing, comp)


def test_string_labels_in_another_case_name_the_right_form(tmp_path: Path) -> None:
    comp = fake_competition(tmp_path / "c", ids=[1, 2], classes=["cat", "dog"])
    frame = pd.DataFrame({"id": ["1", "2"], "label": ["cat", "Dog"]})
    with pytest.raises(ToolkitError, match=r"^label form: .*'Dog'.*'dog'"):
        validate_submission(frame, comp)


def test_without_a_sample_the_competition_ids_and_columns_are_used(tmp_path: Path) -> None:
    comp = fake_competition(
        tmp_path / "c",
        ids=["a.png", "b.png"],
        classes=["x", "y"],
        id_column="image",
        label_column="class",
        sample=False,
    )
    expected = expected_format(comp)
    assert expected.header == ("image", "class")
    assert expected.id_texts == ("a.png", "b.png")
    validate_submission(pd.DataFrame({"image": ["b.png", "a.png"], "class": ["y", "x"]}), comp)
    with pytest.raises(ToolkitError, match=r"^wrong header:"):
        validate_submission(pd.DataFrame({"id": ["a.png", "b.png"], "label": ["x", "y"]}), comp)


def test_a_missing_file_is_a_user_error(comp, tmp_path: Path) -> None:
    with pytest.raises(ToolkitError, match="does not exist"):
        validate_submission(tmp_path / "nope.csv", comp)
