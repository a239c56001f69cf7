"""``tk assignment`` on the bundled digits, with a small budget: every row runs and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.assignment import ROWS, configs, run_assignment


def test_configs_carry_the_assignments_settings() -> None:
    cfgs = configs(budget=0)
    assert cfgs["binary"].loss == "bce" and cfgs["binary"].l2 == 0.1
    assert cfgs["binary"].head_lr == 1e-3 and cfgs["binary"].head_iterations == 1000
    assert cfgs["softmax"].early_stopping == "last-k" and cfgs["softmax"].patience == 25
    assert cfgs["probe"].loss_params == {"margin": 1.0, "p": 2}
    assert cfgs["probe"].iterations == 3000 and cfgs["probe"].batch_size == 256
    assert cfgs["finetune"].encoder == "convnet4" and cfgs["finetune"].head == "finetune"
    shares = [r.share for r in ROWS]
    assert sum(shares) == pytest.approx(1.0)


def test_assignment_runs_every_row_on_digits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.data import load_competition, make_example

    monkeypatch.setenv("TOOLKIT_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    comp = load_competition(make_example("digits", tmp_path / "digits"))
    rows = run_assignment(comp, budget=24, quiet=True)
    assert [r["key"] for r in rows] == [r.key for r in ROWS]
    by_key = {r["key"]: r for r in rows}
    assert by_key["binary"]["metrics"]["val_acc"] >= 0.95  # digits 0 vs 1 is easy
    assert by_key["softmax"]["metrics"]["val_acc"] >= 0.85
    assert by_key["triplet"]["metrics"]["val_knn_acc"] >= 0.8
    assert "(0 vs 1)" in by_key["binary"]["ours"]
    # The fine-tune starts from the triplet encoder, as the assignment's Network B did.
    ft = json.loads((tmp_path / "runs" / by_key["finetune"]["run_id"] / "run.json").read_text())
    assert ft["config"]["init_from"].endswith(by_key["probe"]["run_id"])
    assert (tmp_path / "runs" / by_key["triplet"]["run_id"] / "tsne.png").is_file()
