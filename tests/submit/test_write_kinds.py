"""Probabilities -> rows of each submission shape -> CSV -> validation, and back to numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit.data._submission import SubmissionFormat, submission_format
from toolkit.errors import ToolkitError
from toolkit.submit import expected_format, validate_submission
from toolkit.submit.validate import ROW_SUM_TOLERANCE
from toolkit.submit.write import submission_rows, write_submission

from ._fakes import fake_competition
from ._kinds import with_sample


def softmax_rows(m: int, k: int, seed: int = 0, scale: float = 3.0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(scale=scale, size=(m, k))
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)  # (m, k)


def test_rows_of_each_kind_by_hand() -> None:
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    classes = [3, 10, 20]
    label = SubmissionFormat("label", ("id", "y"))
    assert submission_rows(label, probs, classes) == [["10"], ["3"]]
    top = SubmissionFormat("top-k", ("id", "y"), k=2)
    assert submission_rows(top, probs, classes) == [["10 20"], ["3 20"]]
    every = SubmissionFormat("top-k", ("id", "y"), k=5)  # more than K: all K, ranked
    assert submission_rows(every, probs, classes) == [["10 20 3"], ["3 20 10"]]
    per_class = SubmissionFormat(
        "class-probabilities", ("id", "20", "3", "10"), class_order=(2, 0, 1)
    )
    assert submission_rows(per_class, probs, classes) == [
        ["0.3", "0.1", "0.6"],
        ["0.3", "0.5", "0.2"],
    ]
    binary = SubmissionFormat("probability", ("id", "p"), positive_class=0)
    assert submission_rows(binary, probs[:, :2] / probs[:, :2].sum(1, keepdims=True), [0, 1]) == [
        ["0.142857"],
        ["0.714286"],
    ]


def test_ties_rank_the_lower_class_first_and_tiny_values_stay_positive() -> None:
    probs = np.array([[0.25, 0.25, 0.5, 1e-9 - 1e-9]])
    top = SubmissionFormat("top-k", ("id", "y"), k=3)
    assert submission_rows(top, probs, ["a", "b", "c", "d"]) == [["c a b"]]
    fmt = SubmissionFormat("class-probabilities", ("id", "a", "b"), class_order=(0, 1))
    assert submission_rows(fmt, np.array([[-0.0, 1.0], [1e-9, 1.0]]), ["a", "b"]) == [
        ["0", "1"],
        ["1e-09", "1"],
    ]


def test_nan_predictions_are_refused() -> None:
    fmt = SubmissionFormat("class-probabilities", ("id", "a", "b"), class_order=(0, 1))
    with pytest.raises(ToolkitError, match="NaN"):
        submission_rows(fmt, np.array([[np.nan, 1.0]]), ["a", "b"])


@pytest.mark.parametrize("kind", ["label", "probability", "class-probabilities", "top-k"])
def test_round_trip_of_each_kind(kind: str, tmp_path: Path) -> None:
    ids = [f"img{i:03d}" for i in range(40)]
    classes = [0, 1] if kind == "probability" else list(range(120))
    comp = fake_competition(tmp_path / "c", ids=ids, classes=classes, sample=False)
    fmt = submission_format(comp, kind=kind, k=5 if kind == "top-k" else 0)
    probs = softmax_rows(len(ids), len(classes), scale=1.0)  # (40, K), flat: many tiny values
    rows = submission_rows(fmt, probs, classes)
    path = tmp_path / "out" / "sub.csv"
    write_submission(path, [str(i) for i in ids], rows, expected_format(comp, fmt))
    validate_submission(path, comp, fmt)

    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert tuple(back.columns) == fmt.header and back["id"].tolist() == ids
    values = back.iloc[:, 1:]
    if kind == "label":
        assert values.iloc[:, 0].tolist() == [str(c) for c in probs.argmax(1)]
    elif kind == "top-k":
        firsts = [row.split() for row in values.iloc[:, 0]]
        assert all(len(r) == 5 for r in firsts)
        assert [r[0] for r in firsts] == [str(c) for c in probs.argmax(1)]
    else:
        numbers = values.astype(float).to_numpy()  # (40, 1) or (40, 120)
        want = probs[:, [1]] if kind == "probability" else probs
        np.testing.assert_allclose(numbers, want, rtol=1e-5, atol=1e-12)
        if kind == "class-probabilities":
            assert np.abs(numbers.sum(1) - 1).max() < ROW_SUM_TOLERANCE / 100


def test_rows_that_do_not_sum_to_one_are_renormalised(tmp_path: Path) -> None:
    comp = with_sample(tmp_path / "c", ["id", "b", "a"], [["0.5", "0.5"]] * 3, classes=["a", "b"])
    fmt = submission_format(comp)
    rows = submission_rows(fmt, np.array([[0.2, 0.2], [0.9, 0.3], [1.2, -0.1]]), ["a", "b"])
    assert rows == [["0.5", "0.5"], ["0.25", "0.75"], ["0", "1"]]
    write_submission(tmp_path / "s.csv", ["a", "b", "c"], rows, expected_format(comp))


def test_the_writer_refuses_rows_that_break_a_value_rule(tmp_path: Path) -> None:
    comp = with_sample(tmp_path / "c", ["id", "a", "b"], [["0.5", "0.5"]] * 3, classes=["a", "b"])
    bad = [["0.5", "0.5"], ["0.5", "0.5"], ["0.9", "0.9"]]
    with pytest.raises(ToolkitError, match=r"^row sum:"):
        write_submission(tmp_path / "s.csv", ["a", "b", "c"], bad, expected_format(comp))
    assert not (tmp_path / "s.csv").exists()


def test_a_list_of_labels_still_writes_a_label_file(tmp_path: Path) -> None:
    comp = fake_competition(tmp_path / "c", ids=[1, 2], classes=["x", "y"])
    write_submission(tmp_path / "s.csv", ["1", "2"], ["y", "x"], expected_format(comp))
    assert (tmp_path / "s.csv").read_text() == "id,label\n1,y\n2,x\n"
