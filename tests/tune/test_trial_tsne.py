"""The ``tsne`` setting: on for a run of its own, off for tuning trials unless a study asks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tune.conftest import write_study
from toolkit.errors import ToolkitError


def trial_tsne(tmp_path: Path, **fixed: str) -> str:
    import optuna

    from toolkit.tune import load_spec, with_fixed
    from toolkit.tune.objective import trial_config

    spec = with_fixed(load_spec(write_study(tmp_path)), fixed)
    _, config = trial_config(optuna.trial.FixedTrial({"head_lr": 0.01}), spec)
    return config.tsne


def test_tuning_trials_draw_no_tsne_unless_asked(tmp_path: Path) -> None:
    from toolkit.train.config import TrainConfig

    assert TrainConfig().tsne == "auto"  # tk train: on
    assert trial_tsne(tmp_path) == "off"
    assert trial_tsne(tmp_path, tsne="on") == "on"  # tk tune --set tsne=on, or [fixed]


def test_tsne_takes_auto_on_or_off() -> None:
    from toolkit.train.config import TrainConfig, apply_overrides, validate

    validate(apply_overrides(TrainConfig(), {"tsne": "off"}))
    with pytest.raises(ToolkitError, match="tsne must be auto, on or off"):
        validate(apply_overrides(TrainConfig(), {"tsne": "yes"}))
