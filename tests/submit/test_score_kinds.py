"""Scoring each submission shape against an answer key, by the contest's metric."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk

from toolkit.errors import ToolkitError
from toolkit.submit import score_submission
from toolkit.submit.provenance import FORMAT
from toolkit.submit.score import Score

from ._fakes import fake_competition
from ._kinds import write_rows

CLASSES = ["ant", "bee", "cat"]
IDS = [str(i) for i in range(1, 7)]
TRUTH = ["ant", "bee", "cat", "ant", "bee", "cat"]


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return write_rows(
        tmp_path / "answers.csv", ["id", "label"], list(zip(IDS, TRUTH, strict=True))
    )


def one_hot_rows(labels: list[str], classes: list[str]) -> list[list[str]]:
    return [
        [i, *("1" if c == lab else "0" for c in classes)]
        for i, lab in zip(IDS, labels, strict=True)
    ]


def test_a_perfect_class_probabilities_file(tmp_path: Path, key: Path) -> None:
    header = ["id", "cat", "ant", "bee"]  # any column order
    sub = write_rows(tmp_path / "sub.csv", header, one_hot_rows(TRUTH, header[1:]))
    score = score_submission(sub, key)
    assert isinstance(score, Score) and score.metric == "log_loss" and score.title == "log loss"
    assert score.direction == "minimize" and score.value == pytest.approx(0.0, abs=1e-9)
    assert score_submission(sub, key, metric="accuracy") == 1.0
    assert score_submission(sub, key, metric="roc_auc") == pytest.approx(1.0)


def test_class_probabilities_match_sklearn(tmp_path: Path, key: Path) -> None:
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=len(IDS))  # (6, 3)
    rows = [[i, *(f"{v:.6f}" for v in row)] for i, row in zip(IDS, probs, strict=True)]
    sub = write_rows(tmp_path / "sub.csv", ["id", *CLASSES], rows)
    y = [CLASSES.index(t) for t in TRUTH]
    written = np.array([[float(v) for v in r[1:]] for r in rows])
    written /= written.sum(1, keepdims=True)
    assert score_submission(sub, key) == pytest.approx(sk.log_loss(y, written), rel=1e-9)
    assert score_submission(sub, key, metric="f1_macro") == pytest.approx(
        sk.f1_score(y, written.argmax(1), average="macro")
    )


def test_a_probability_file_scores_the_second_class(tmp_path: Path) -> None:
    key = write_rows(tmp_path / "k.csv", ["id", "label"], [["1", "0"], ["2", "1"], ["3", "1"]])
    sub = write_rows(
        tmp_path / "sub.csv", ["id", "target"], [["1", "0.2"], ["2", "0.7"], ["3", "0.4"]]
    )
    p = np.array([0.2, 0.7, 0.4])
    assert score_submission(sub, key) == pytest.approx(sk.log_loss([0, 1, 1], p))
    assert score_submission(sub, key, metric="roc_auc") == pytest.approx(1.0)
    assert score_submission(sub, key, metric="accuracy") == pytest.approx(2 / 3)


def test_a_label_file_is_refused_a_probability_metric(tmp_path: Path, key: Path) -> None:
    sub = write_rows(tmp_path / "sub.csv", ["id", "label"], list(zip(IDS, TRUTH, strict=True)))
    assert score_submission(sub, key).metric == "accuracy"
    with pytest.raises(
        ToolkitError, match=r"log_loss \(log loss\) needs probabilities.*--metric"
    ) as info:
        score_submission(sub, key, metric="log_loss")
    assert "\n" not in str(info.value)
    assert score_submission(sub, key, metric="f1_macro") == 1.0


def test_a_top_k_file_scores_map_at_k(tmp_path: Path, key: Path) -> None:
    ranked = ["ant bee cat", "ant bee", "ant bee cat", "bee", "cat ant", "ant cat"]
    sub = write_rows(tmp_path / "sub.csv", ["id", "labels"], list(zip(IDS, ranked, strict=True)))
    # truth: ant (1), bee (1/2), cat (1/3), ant (absent: 0), bee (absent: 0), cat (1/2)
    score = score_submission(sub, key)
    assert (score.metric, score.title) == ("map@3", "MAP@3")
    assert score == pytest.approx((1 + 1 / 2 + 1 / 3 + 0 + 0 + 1 / 2) / 6)
    assert score_submission(sub, key, metric="map@1") == pytest.approx(1 / 6)
    assert score_submission(sub, key, metric="accuracy") == pytest.approx(1 / 6)
    with pytest.raises(ToolkitError, match="top-k"):
        score_submission(sub, key, metric="log_loss")


def test_the_provenance_names_the_shape_and_metric_and_gets_the_score(tmp_path: Path) -> None:
    comp = tmp_path / "comp"
    write_rows(comp / "test_labels.csv", ["id", "label"], [["1", "3"], ["2", "5"], ["3", "5"]])
    sub = write_rows(tmp_path / "sub.csv", ["id", "p"], [["1", "0"], ["2", "1"], ["3", "0"]])
    spec = {"kind": "probability", "k": 1, "positive_class": "3", "classes": ["3", "5"]}
    prov = {"format": FORMAT, "competition_path": str(comp), "submission": spec, "metric": "qwk"}
    sub.with_suffix(".json").write_text(json.dumps(prov))
    # whole values would read as labels; the provenance says they are P(class "3")
    score = score_submission(sub)
    y, pred = [0, 1, 1], [1, 0, 1]  # truth 3, 5, 5; P(3) = 0, 1, 0 -> 5, 3, 5
    assert score.metric == "qwk"
    assert score == pytest.approx(sk.cohen_kappa_score(y, pred, weights="quadratic"))
    data = json.loads(sub.with_suffix(".json").read_text())
    assert data["local_test_score"] == pytest.approx(score.value, abs=1e-6)
    assert data["local_test_metric"] == "qwk"
    assert score_submission(sub, metric="accuracy", record=False) == pytest.approx(1 / 3)
    assert json.loads(sub.with_suffix(".json").read_text())["local_test_metric"] == "qwk"


def test_the_competition_gives_classes_and_answers(tmp_path: Path) -> None:
    comp = fake_competition(tmp_path / "c", ids=["1", "2", "3"], classes=[0, 1, 2])
    comp = dataclasses.replace(comp, y_test=np.array([0, 2, 2]))
    sub = write_rows(tmp_path / "s.csv", ["id", "label"], [["1", "0"], ["2", "1"], ["3", "2"]])
    score = score_submission(sub, competition=comp, metric="qwk")
    assert score == pytest.approx(sk.cohen_kappa_score([0, 2, 2], [0, 1, 2], weights="quadratic"))
    no_key = dataclasses.replace(comp, y_test=None)
    with pytest.raises(ToolkitError, match=r"no answer key.*--answers"):
        score_submission(sub, competition=no_key)


def test_bad_cells_and_mismatched_keys_are_user_errors(tmp_path: Path, key: Path) -> None:
    text = write_rows(tmp_path / "t.csv", ["id", *CLASSES], [[i, "0.5", "x", "0.5"] for i in IDS])
    with pytest.raises(ToolkitError, match=r"^value form: t.csv line 2 has 'x'"):
        score_submission(text, key)
    two = write_rows(tmp_path / "two.csv", ["id", "ant", "bee"], [[i, "0.5", "0.5"] for i in IDS])
    with pytest.raises(ToolkitError, match=r"has label 'cat', which is not a class of two\.csv"):
        score_submission(two, key)
    short = write_rows(tmp_path / "short.csv", ["id", "label"], [["1", "ant"]])
    with pytest.raises(ToolkitError, match=r"^missing id: short.csv has no row for 5 ids"):
        score_submission(short, key)


def test_a_score_is_a_float_that_knows_its_metric() -> None:
    score = Score(0.25, "log_loss", "log loss", "minimize")
    assert score == 0.25 and f"{score:.3f}" == "0.250" and 100 * score == 25.0
    assert json.dumps({"s": score}) == '{"s": 0.25}' and type(score.value) is float
    assert pickle.loads(pickle.dumps(score)).to_dict() == score.to_dict()
    with pytest.raises(AttributeError):
        score.metric = "accuracy"  # type: ignore[misc]
