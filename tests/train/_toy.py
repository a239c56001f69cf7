"""A toy stage for loop tests: a linear model fitting y = 2x on N points, batches of 16."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from toolkit.train.config import TrainConfig
from toolkit.train.loop import Context, Report, Stage
from toolkit.train.plan import Kinds, make_plan
from toolkit.train.progress import Progress


def toy_stage(
    model: nn.Linear, evaluate: Callable[[], dict[str, Any]], *, n: int, epochs: int
) -> Stage:
    """``model`` fitting y = 2x on ``n`` points for ``epochs`` epochs of batches of 16 (lr
    0.05), scored by ``evaluate`` once an epoch."""
    cfg = TrainConfig(head_epochs=epochs, head_batch_size=16, head_lr=0.05)
    kinds = Kinds(embedding_loss=False, balanced_batches=False, trains_encoder=False)
    (plan,) = make_plan(cfg, n_train=n, kinds=kinds).stages
    x = torch.linspace(-1, 1, n).unsqueeze(1)

    def step(idx: torch.Tensor) -> torch.Tensor:
        return ((model(x[idx]) - 2 * x[idx]) ** 2).mean()

    def batches(gen: torch.Generator) -> Iterator[torch.Tensor]:
        return iter(torch.randperm(n, generator=gen).split(16))

    return Stage(plan, [model], [(list(model.parameters()), 1.0)], step, batches, evaluate)


def toy_context(report: Report | None = None, **config: Any) -> Context:
    """A quiet CPU context for :func:`toy_stage` with ``config``'s settings."""
    cfg = dataclasses.replace(TrainConfig(), **config)
    return Context(
        cfg, None, Progress(True), report, torch.device("cpu"), contextlib.nullcontext, 0.0
    )
