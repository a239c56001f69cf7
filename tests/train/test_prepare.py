"""A run's preparation, shared by tk train, tk lr-find and the autosize probe benchmark."""

from __future__ import annotations

import torch

from toolkit.data import Competition
from toolkit.train import TrainConfig
from toolkit.train.distributed import World
from toolkit.train.prepare import prepare


def test_prepare_gives_the_splits_task_and_setup_a_run_trains_with(digits: Competition) -> None:
    cfg = TrainConfig(epochs=1, flip=True, tta=True, metric="f1_macro")
    prepared = prepare(cfg, digits, torch.device("cpu"))
    n = len(prepared.splits.y_train) + len(prepared.splits.y_val)
    assert n == len(digits.y_train) and len(prepared.splits.y_val) > 0
    assert prepared.task.metric.name == prepared.setup.metric.name == "f1_macro"
    assert (
        prepared.setup.config is cfg and prepared.setup.tta is not None
    )  # flips trained: flip TTA
    # Ranks draw different augmentations; rank 0 draws as a single process does.
    single = prepared.setup.augment_generator.initial_seed()
    rank1 = prepare(cfg, digits, torch.device("cpu"), World(rank=1, size=2, local_size=2))
    assert rank1.setup.augment_generator.initial_seed() != single
    again = prepare(cfg, digits, torch.device("cpu"), World(rank=0, size=2, local_size=2))
    assert again.setup.augment_generator.initial_seed() == single
