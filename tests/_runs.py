"""The one tiny trained run tests share: pixels + softmax-ce + linear probe, a few seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit.data import Competition

TINY = {
    "encoder": "pixels",
    "loss": "softmax-ce",
    "head": "linear-probe",
    "head_epochs": 5,
    "device": "cpu",
    "threads": 1,
}


def tiny_run(comp: Competition, *, runs_root: Path | None = None, **settings: Any) -> Path:
    """Train the tiny run on ``comp`` (``settings`` override :data:`TINY`); its folder."""
    from toolkit.train import TrainConfig, train

    result = train(TrainConfig(**{**TINY, **settings}), comp, runs_root=runs_root, quiet=True)
    assert result.path is not None and result.status == "completed"
    return result.path
