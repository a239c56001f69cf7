"""What every entry point that trains steps does first, in one place: ``tk train``, ``tk lr-find``
and ``benchmarks/autosize_probe.py`` prepare a run alike.

The images the config asks for, the competition's task (submission shape and metric, checked
before training), torch (seed, threads, precision), the data splits on the device, and the
:class:`~toolkit.train.stages.Setup` every step needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from toolkit.train.distributed import SINGLE, World

if TYPE_CHECKING:
    from toolkit.data import Competition
    from toolkit.train.config import TrainConfig
    from toolkit.train.parts import Splits
    from toolkit.train.stages import Setup
    from toolkit.train.task import Task


@dataclass(frozen=True)
class Prepared:
    competition: Competition  # the images as the config asks for them
    task: Task
    splits: Splits
    setup: Setup


def prepare(
    cfg: TrainConfig, competition: Competition, device: torch.device, world: World = SINGLE
) -> Prepared:
    """Everything before the model: see the module's docstring. ``world``: this process's
    place among DDP ranks (threads are shared out, augmentation draws differ per rank)."""
    from toolkit.train.device import setup_torch
    from toolkit.train.parts import load_splits
    from toolkit.train.stages import Setup
    from toolkit.train.task import matching_competition, resolve_task
    from toolkit.train.tta import validation_tta

    competition = matching_competition(cfg, competition)
    task = resolve_task(cfg, competition)
    autocast = setup_torch(
        cfg.seed, device, threads=cfg.threads, processes=world.local_size, precision=cfg.precision
    )
    splits = load_splits(cfg, competition, device)
    # Each rank augments its own shard, so their random draws differ (rank 0's = one process).
    augment_generator = torch.Generator().manual_seed(cfg.seed + 7 + 7919 * world.rank)
    setup = Setup(cfg, task.metric, autocast, augment_generator, validation_tta(cfg.to_dict()))
    return Prepared(competition, task, splits, setup)
