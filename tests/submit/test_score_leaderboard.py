"""Local scores against an answer key, stored back in the provenance; the leaderboard listing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from toolkit.data import Competition
from toolkit.errors import ToolkitError
from toolkit.submit import list_submissions, make_submission, score_submission
from toolkit.submit.write import format_csv


def test_score_uses_the_competition_answer_key_and_is_recorded(
    trained: list[Path], digits: Competition
) -> None:
    result = make_submission(str(trained[0]))
    data = json.loads(result.json_path.read_text())
    data["local_test_score"] = None
    result.json_path.write_text(json.dumps(data))

    score = score_submission(result.csv_path)
    assert 0.5 < score <= 1.0
    prov = json.loads(result.json_path.read_text())
    assert prov["local_test_score"] == pytest.approx(score, abs=1e-6)
    assert prov["scored"]["answers"].endswith("test_labels.csv")
    assert not list(result.json_path.parent.glob(".*.tmp"))  # rewritten atomically


def test_score_with_explicit_answers_and_no_provenance(tmp_path: Path) -> None:
    sub = tmp_path / "sub.csv"
    sub.write_text(format_csv(["id", "label"], [["1", "a"], ["2", "b"], ["3", "a"], ["4", "b"]]))
    key = tmp_path / "answers.csv"
    key.write_text(format_csv(["label", "id"], [["a", "1"], ["a", "2"], ["a", "3"], ["b", "4"]]))
    assert score_submission(sub, key) == pytest.approx(0.75)
    with pytest.raises(ToolkitError, match="--answers"):
        score_submission(sub)


def test_score_refuses_a_submission_missing_answer_ids(tmp_path: Path) -> None:
    sub = tmp_path / "sub.csv"
    sub.write_text(format_csv(["id", "label"], [["1", "a"]]))
    key = tmp_path / "answers.csv"
    key.write_text(format_csv(["id", "label"], [["1", "a"], ["2", "b"]]))
    with pytest.raises(ToolkitError, match=r"missing id.*'2'"):
        score_submission(sub, key)


def test_the_local_score_matches_the_answer_key(trained: list[Path], digits: Competition) -> None:
    result = make_submission(str(trained[0]))
    probs = np.load(trained[0] / "test_probs.npy")  # (M, K) saved by the run
    expected = float(np.mean(probs.argmax(1) == digits.y_test))
    assert score_submission(result.csv_path, record=False) == pytest.approx(expected, abs=1e-6)


def test_leaderboard_lists_newest_first_and_filters(
    trained: list[Path], submissions: Path
) -> None:
    first = make_submission(str(trained[0]), name="first")
    second = make_submission(str(trained[1]), name="second")
    for result, created in (
        (first, "2024-01-01T00:00:00+0000"),
        (second, "2025-01-01T00:00:00+0000"),
    ):
        data = json.loads(result.json_path.read_text())
        data["created"] = created
        result.json_path.write_text(json.dumps(data))
    (submissions / "digits" / "notes.json").write_text('{"not": "a submission"}')
    (submissions / "other").mkdir()

    entries = list_submissions()
    assert [e["file"] for e in entries] == [second.csv_path.name, first.csv_path.name]
    top = entries[0]
    assert top["source"].startswith("run ") and top["competition"] == "digits"
    assert top["validation_score"] == second.provenance["validation_score"]
    assert top["local_test_score"] == second.provenance["local_test_score"]
    assert list_submissions(competition="digits") == entries
    assert list_submissions(competition="/some/where/digits") == entries
    assert list_submissions(competition="other") == []
    assert list_submissions(root=submissions / "nowhere") == []
