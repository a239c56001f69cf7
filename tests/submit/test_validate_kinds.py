"""The value rules of probability, class-probabilities and top-k submissions."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.data import Competition
from toolkit.data._submission import submission_format
from toolkit.errors import ToolkitError
from toolkit.submit import expected_format, validate_submission

from ._kinds import with_sample, write_rows

IDS = ["a", "b", "c"]
CASES: dict[str, tuple[list[str], list[list[str]], list[str]]] = {
    # kind -> (sample header, sample values per id, classes)
    "probability": (["id", "p"], [["0.5"]] * 3, ["cat", "dog"]),
    "class-probabilities": (["id", "z", "x", "y"], [["0.2", "0.3", "0.5"]] * 3, ["x", "y", "z"]),
    "top-k": (["id", "labels"], [["x y z"]] * 3, ["w", "x", "y", "z"]),
}
GOOD = {
    "probability": [["0.1"], ["1"], ["0"]],
    "class-probabilities": [
        ["0.2", "0.3", "0.5"],
        ["1", "0", "0"],
        ["0.3333", "0.3333", "0.3334"],
    ],
    "top-k": [["x y z"], ["w"], ["z x"]],
}
# kind -> rule -> the third row's values, breaking only that rule
BAD: dict[str, dict[str, list[str]]] = {
    "probability": {"value form": ["1.5"], "empty value": [" "]},
    "class-probabilities": {"value form": ["nan", "0.5", "0.5"], "row sum": ["0.2", "0.2", "0.2"]},
    "top-k": {
        "label count": ["x y z w"],
        "duplicate label": ["x x"],
        "unknown label": ["x cow"],
        "label form": ["x X"],
    },
}


def competition(tmp_path: Path, kind: str) -> Competition:
    header, values, classes = CASES[kind]
    return with_sample(tmp_path / kind, header, values, classes=classes, ids=IDS)


def rows(values: list[list[str]]) -> list[list[str]]:
    return [[i, *v] for i, v in zip(IDS, values, strict=True)]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_good_file_of_each_kind_passes(kind: str, tmp_path: Path) -> None:
    comp = competition(tmp_path, kind)
    expected = expected_format(comp)
    assert expected.kind == kind and expected.header == tuple(CASES[kind][0])
    path = write_rows(tmp_path / "ok.csv", CASES[kind][0], rows(GOOD[kind]))
    validate_submission(path, comp)


@pytest.mark.parametrize(
    ("kind", "rule"), [(kind, rule) for kind, rules in BAD.items() for rule in rules]
)
def test_each_broken_value_rule_is_named(kind: str, rule: str, tmp_path: Path) -> None:
    comp = competition(tmp_path, kind)
    values = [*GOOD[kind][:2], BAD[kind][rule]]
    path = write_rows(tmp_path / "bad.csv", CASES[kind][0], rows(values))
    with pytest.raises(ToolkitError) as info:
        validate_submission(path, comp)
    message = str(info.value)
    assert message.startswith(f"{rule}: bad.csv line 4"), message
    assert "\n" not in message


def test_top_k_allows_up_to_k_labels_and_k_comes_from_the_format(tmp_path: Path) -> None:
    comp = competition(tmp_path, "top-k")  # the sample lists 3 labels: k = 3
    four = write_rows(tmp_path / "four.csv", ["id", "labels"], rows([["w x y z"]] * 3))
    with pytest.raises(ToolkitError, match=r"^label count:.*at most 3"):
        validate_submission(four, comp)
    validate_submission(four, comp, submission_format(comp, k=4))


def test_a_probability_file_needs_numbers_not_labels(tmp_path: Path) -> None:
    comp = competition(tmp_path, "probability")
    path = write_rows(tmp_path / "labels.csv", ["id", "p"], rows([["cat"], ["dog"], ["cat"]]))
    with pytest.raises(
        ToolkitError, match=r"^value form: labels.csv line 2 .*'cat' in column 'p'"
    ):
        validate_submission(path, comp)


def test_class_columns_in_another_order_are_a_column_order_error(tmp_path: Path) -> None:
    comp = competition(tmp_path, "class-probabilities")
    path = write_rows(tmp_path / "s.csv", ["id", "x", "y", "z"], rows(GOOD["class-probabilities"]))
    with pytest.raises(ToolkitError, match=r"^wrong column order:.*'id,z,x,y'"):
        validate_submission(path, comp)
