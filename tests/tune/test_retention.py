"""Only the best trials keep their weights, best in the study's direction."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from toolkit.runs.store import CHECKPOINT
from toolkit.tune.retention import prune_checkpoints


@pytest.mark.parametrize(("direction", "kept"), [("maximize", {2, 3}), ("minimize", {0, 1})])
def test_the_best_trials_keep_their_weights(
    tmp_path: Path, direction: str, kept: set[int]
) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=direction)
    for number, value in enumerate([0.1, 0.2, 0.3, 0.4]):
        run = tmp_path / f"run{number}"
        run.mkdir()
        (run / CHECKPOINT).write_bytes(b"weights")
        trial = study.ask()
        trial.set_user_attr("run_path", str(run))
        trial.set_user_attr("run_id", f"run{number}")
        study.tell(trial, value)
    removed = prune_checkpoints(study, keep=2)
    assert sorted(removed) == sorted(f"run{n}" for n in range(4) if n not in kept)
    left = {n for n in range(4) if (tmp_path / f"run{n}" / CHECKPOINT).exists()}
    assert left == kept
