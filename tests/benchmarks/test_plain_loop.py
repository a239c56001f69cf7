"""Smoke run of the hand-written tensor loop (the bar in docs/BENCHMARKS.md) on tiny digits."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.benchmarks._script import run_smoke

KEYS = {
    "test_acc",
    "epochs",
    "steps",
    "images",
    "images_per_s",
    "wall_s",
    "load_s",
    "predict_s",
    "threads",
    "width",
    "budget_s",
}


def test_plain_tensor_loop_smoke(tmp_path: Path) -> None:
    result = run_smoke("plain_tensor_loop.py", tmp_path)
    assert set(result) >= KEYS
    assert result["steps"] > 0 and result["epochs"] > 0 and result["images_per_s"] > 0
    assert 0.0 <= result["test_acc"] <= 1.0
    assert result["threads"] == 1 and result["budget_s"] > 0
    competition = next((tmp_path / "data").rglob("sample_submission.csv")).parent
    with (competition / "sample_submission.csv").open(newline="") as fh:
        sample_ids = [row[0] for row in list(csv.reader(fh))[1:]]
    with (tmp_path / "submission.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["id", "label"]
    assert [row[0] for row in rows[1:]] == sample_ids and sample_ids
    with (competition / "train.csv").open(newline="") as fh:
        classes = {row[1] for row in list(csv.reader(fh))[1:]}
    assert {row[1] for row in rows[1:]} <= classes
