"""Submission shapes read off sample_submission.csv, the settings that override them, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from toolkit.data._submission import KINDS, SubmissionFormat, submission_format
from toolkit.errors import ToolkitError
from toolkit.metrics._fit import KINDS as METRIC_KINDS

from ._fakes import fake_competition
from ._kinds import with_sample

THREE = [["x"], ["x"], ["x"]]


def one_line_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ToolkitError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.endswith("."), message
    return message


def test_the_metrics_know_the_same_kinds() -> None:
    assert METRIC_KINDS == KINDS


def test_one_column_of_classes_or_placeholders_is_a_label(tmp_path: Path) -> None:
    comp = with_sample(
        tmp_path / "a", ["id", "label"], [["cat"], ["dog"], ["cat"]], classes=["cat", "dog"]
    )
    fmt = submission_format(comp)
    assert fmt == SubmissionFormat("label", ("id", "label"), source="sample_submission.csv")
    zeros = with_sample(tmp_path / "b", ["id", "y"], [["0"], ["0"], ["0"]], classes=[3, 5, 7])
    assert submission_format(zeros).kind == "label"


def test_classes_that_look_like_fractions_or_phrases_stay_labels(tmp_path: Path) -> None:
    fractions = with_sample(tmp_path / "a", ["id", "v"], [["0.5"]] * 3, classes=["0.5", "z"])
    assert submission_format(fractions).kind == "label"
    phrases = with_sample(tmp_path / "b", ["id", "v"], [["a b"]] * 3, classes=["a b", "c"])
    assert submission_format(phrases).kind == "label"


def test_fractions_with_two_classes_are_a_probability(tmp_path: Path) -> None:
    comp = with_sample(
        tmp_path / "a", ["id", "is_dog"], [["0.5"], ["0"], ["1"]], classes=["cat", "dog"]
    )
    fmt = submission_format(comp)
    assert (fmt.kind, fmt.header, fmt.positive_class) == ("probability", ("id", "is_dog"), 1)
    assert submission_format(comp, positive_class="cat").positive_class == 0


def test_one_column_per_class_in_any_order_is_class_probabilities(tmp_path: Path) -> None:
    header = ["id", "dog", "ant", "cat"]
    comp = with_sample(tmp_path / "a", header, [["0.3"] * 3] * 3, classes=["ant", "cat", "dog"])
    fmt = submission_format(comp)
    assert fmt.kind == "class-probabilities"
    assert fmt.header == tuple(header) and fmt.class_order == (2, 0, 1)


def test_integer_classes_match_their_column_names(tmp_path: Path) -> None:
    comp = with_sample(tmp_path / "a", ["id", "0", "1", "2"], [["0.3"] * 3] * 3, classes=[0, 1, 2])
    assert submission_format(comp).class_order == (0, 1, 2)


def test_space_separated_labels_are_top_k(tmp_path: Path) -> None:
    rows = [["new_whale w_1 w_2"], ["w_1 w_2 w_3"], ["w_3 w_2 w_1"]]
    classes = ["new_whale", "w_1", "w_2", "w_3"]
    comp = with_sample(tmp_path / "a", ["Image", "Id"], rows, classes=classes)
    assert (submission_format(comp).kind, submission_format(comp).k) == ("top-k", 3)
    assert submission_format(comp, k=2).k == 2
    mixed = with_sample(
        tmp_path / "b", ["Image", "Id"], [["w_1 w_2"], ["w_1"], ["w_1 w_2 w_3"]], classes=classes
    )
    assert submission_format(mixed).k == 5  # the rows disagree: MAP@5, the usual contest


def test_a_forced_kind_overrides_the_sample(tmp_path: Path) -> None:
    comp = with_sample(tmp_path / "a", ["id", "label"], [["0"]] * 3, classes=[0, 1])
    assert submission_format(comp, kind="probability").kind == "probability"
    assert submission_format(comp, kind="top-k", k=2).k == 2
    fraction = with_sample(tmp_path / "b", ["id", "label"], [["0.5"]] * 3, classes=[0, 1])
    assert submission_format(fraction, kind="label").kind == "label"


def test_without_a_sample_the_competition_columns_are_used(tmp_path: Path) -> None:
    comp = fake_competition(
        tmp_path / "a",
        ids=[1, 2],
        classes=[3, 10],
        id_column="image",
        label_column="class",
        sample=False,
    )
    assert submission_format(comp) == SubmissionFormat(
        "label", ("image", "class"), source="the competition's test ids"
    )
    assert submission_format(comp, kind="probability").header == ("image", "class")
    per_class = submission_format(comp, kind="class-probabilities")
    assert per_class.header == ("image", "3", "10") and per_class.class_order == (0, 1)
    assert submission_format(comp, kind="top-k").k == 5


def test_ambiguous_fractions_with_many_classes_name_the_setting(tmp_path: Path) -> None:
    comp = with_sample(tmp_path / "a", ["id", "label"], [["0.5"]] * 3, classes=[0, 1, 2, 3])
    message = one_line_error(submission_format, comp)
    assert "fractional values (0.5)" in message and "4 classes" in message
    assert "--set submission.kind=label" in message


def test_a_forced_probability_with_text_in_the_sample_is_refused(tmp_path: Path) -> None:
    comp = with_sample(tmp_path / "a", ["id", "label"], [["cat"]] * 3, classes=["cat", "dog"])
    message = one_line_error(submission_format, comp, kind="probability")
    assert "'cat'" in message and "numbers in [0, 1]" in message
    assert "submission.kind=label" in message


def test_value_columns_that_are_not_classes_are_named(tmp_path: Path) -> None:
    comp = with_sample(
        tmp_path / "a",
        ["id", "ant", "cow", "pig"],
        [["0.3"] * 3] * 3,
        classes=["ant", "bee", "cat"],
    )
    message = one_line_error(submission_format, comp)
    assert "columns that are not classes: cow, pig" in message
    assert "classes with no column: bee, cat" in message


def test_forced_kinds_that_do_not_fit(tmp_path: Path) -> None:
    many = with_sample(tmp_path / "a", ["id", "label"], THREE, classes=["x", "y", "z"])
    assert "exactly 2 classes" in one_line_error(submission_format, many, kind="probability")
    assert "at least 1" in one_line_error(submission_format, many, kind="top-k", k=-1)
    assert "classes with no column: x, y, z" in one_line_error(
        submission_format, many, kind="class-probabilities"
    )
    per_class = with_sample(
        tmp_path / "b", ["id", "x", "y", "z"], [["0.3"] * 3] * 3, classes=["x", "y", "z"]
    )
    message = one_line_error(submission_format, per_class, kind="label")
    assert "one value column" in message and "submission.kind=class-probabilities" in message
    assert "submission.kind=top-k" in one_line_error(submission_format, many, k=3)


def test_top_k_may_ask_for_more_labels_than_classes(tmp_path: Path) -> None:
    comp = with_sample(tmp_path / "a", ["id", "label"], THREE, classes=["x", "y"])
    assert submission_format(comp, kind="top-k", k=5).k == 5  # only 2 can be written


def test_unknown_kind_and_positive_class_list_the_choices(tmp_path: Path) -> None:
    comp = with_sample(tmp_path / "a", ["id", "p"], [["0.5"]] * 3, classes=["cat", "dog"])
    message = one_line_error(submission_format, comp, kind="probabilities")
    assert all(kind in message for kind in KINDS)
    assert "cat, dog" in one_line_error(submission_format, comp, positive_class="cow")
    label = with_sample(tmp_path / "b", ["id", "p"], [["cat"]] * 3, classes=["cat", "dog"])
    assert "submission.kind=probability" in one_line_error(
        submission_format, label, positive_class="dog"
    )


@pytest.mark.parametrize(
    ("header", "named"),
    [(["id", "label", ""], "empty column name"), (["id", "label", "label"], "'label'")],
)
def test_a_broken_sample_header_is_named(tmp_path: Path, header: list[str], named: str) -> None:
    comp = with_sample(tmp_path / "a", header, [["x", "x"]] * 3, classes=["x", "y"])
    assert named in one_line_error(submission_format, comp)


def test_a_sample_with_only_an_id_column_is_refused(tmp_path: Path) -> None:
    comp = with_sample(tmp_path / "a", ["id"], [[], [], []], classes=["x", "y"])
    assert "value column" in one_line_error(submission_format, comp)
