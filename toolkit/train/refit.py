"""Refit: train a chosen configuration again on every training image (train + validation).

A run holds back ``val_fraction`` of the training images to choose and report on; once the
configuration is chosen, those images are worth more as training data. :func:`refit_config`
turns a finished run's record into the config of its refit: the same plugins and settings,
``val_fraction = 0`` (no validation split: the last weights are kept), no budget, and each
stage fixed to the number of optimisation steps the run took (read from its ``metrics.csv``
rows), so the refit sees the same number of batches, each drawn from 11% more images at the
default split. A cross-validation (``tk train --folds K``) is refitted as one model on every
image, for the steps of its first fold (``rows`` are that fold's). The refit's ``run.json``
says ``refit_of``; a submission from it says so in its provenance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.train.config import TrainConfig


def refit_config(record: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> TrainConfig:
    """The refit of the run whose ``run.json`` is ``record`` and metrics rows are ``rows``."""
    run_id = record.get("id", "the run")
    if record.get("status") != "completed":
        raise ToolkitError(
            f"run {run_id} is {record.get('status')}; refit a completed run (tk runs lists them)."
        )
    config = TrainConfig.from_dict(record.get("config") or {})
    if not config.has_validation:
        raise ToolkitError(
            f"run {run_id} already trained on every image (val_fraction = 0); submit it as it is."
        )
    steps = _steps_per_stage(rows)
    if not steps:
        raise ToolkitError(f"run {run_id} has no metrics rows; its steps are unknown.")
    first_stage = next(iter(steps))
    changes: dict[str, Any] = {
        "val_fraction": 0.0,
        "folds": 0,  # a cross-validation's refit is one model on every image
        "fold": 0,
        "budget": 0.0,
        "early_stopping": "none",
        "autosize": False,  # the run's width is in its encoder_params already
    }
    if first_stage in ("encoder", "finetune"):
        changes["iterations"] = steps[first_stage]
    if "head" in steps:
        changes["head_iterations"] = steps["head"]
    return dataclasses.replace(config, **changes)


def _steps_per_stage(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The last step each stage reached, in stage order."""
    steps: dict[str, int] = {}
    for row in rows:
        stage, step = row.get("stage"), row.get("step")
        if stage and step not in (None, ""):
            steps[str(stage)] = max(steps.get(str(stage), 0), int(float(step)))
    return steps
