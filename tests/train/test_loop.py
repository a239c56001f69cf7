"""The optimisation loop on a tiny hand-made stage: best weights, early stop, pruning, errors."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.train.config import TrainConfig
from toolkit.train.loop import Context, Pruned, Stage, fit
from toolkit.train.plan import Kinds, make_plan
from toolkit.train.progress import Progress

N = 64  # training rows


def _stage(
    model: nn.Module, scores: list[float], *, epochs: float = 4, nan: bool = False
) -> Stage:
    """A linear model fitting y = 2x, scored from ``scores`` in turn (one per evaluation)."""
    cfg = TrainConfig(head_epochs=epochs, head_batch_size=16, head_lr=0.05)
    kinds = Kinds(embedding_loss=False, balanced_batches=False, trains_encoder=False)
    (plan,) = make_plan(cfg, n_train=N, kinds=kinds).stages  # 4 steps an epoch
    x = torch.linspace(-1, 1, N).unsqueeze(1)
    y = 2 * x
    queue = iter(scores)

    def step(idx: torch.Tensor) -> torch.Tensor:
        loss = ((model(x[idx]) - y[idx]) ** 2).mean()
        return loss * float("nan") if nan else loss

    def batches(gen: torch.Generator) -> Iterator[torch.Tensor]:
        return iter(torch.randperm(N, generator=gen).split(16))

    def evaluate() -> dict[str, Any]:
        score = next(queue)
        return {"score": score, "value": score}

    return Stage(plan, [model], [(list(model.parameters()), 1.0)], step, batches, evaluate)


def _context(**config: Any) -> Context:
    cfg = dataclasses.replace(TrainConfig(), **config)
    return Context(
        cfg, None, Progress(True), None, torch.device("cpu"), contextlib.nullcontext, 0.0
    )


def test_the_stage_ends_with_its_best_weights() -> None:
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    seen: list[float] = []
    stage = _stage(model, [0.1, 0.9, 0.3, 0.2])

    def remember(step: int, value: float) -> bool:
        seen.append(float(model.weight.detach()))
        return False

    ctx = _context()
    ctx.report = remember
    fit(stage, ctx)
    assert ctx.evals == 4 and stage.best_score == 0.9
    assert float(model.weight.detach()) == pytest.approx(seen[1])  # the weights of evaluation 2
    assert [row["stage"] for row in ctx.rows] == ["head"] * 4


def test_early_stopping_ends_the_stage() -> None:
    stage = _stage(nn.Linear(1, 1), [0.5, 0.4, 0.3, 0.2])
    ctx = _context(early_stopping="patience", patience=2)
    fit(stage, ctx)
    assert ctx.evals == 3  # no new best at evaluations 2 and 3


def test_the_tuners_hook_prunes_the_run() -> None:
    ctx = _context()
    ctx.report = lambda step, value: step == 2
    with pytest.raises(Pruned, match="pruned at evaluation 2"):
        fit(_stage(nn.Linear(1, 1), [0.5, 0.6, 0.7, 0.8]), ctx)
    assert ctx.evals == 2


def test_a_diverging_loss_is_a_user_error() -> None:
    with pytest.raises(ToolkitError, match="diverged"):
        fit(_stage(nn.Linear(1, 1), [0.5] * 4, nan=True), _context())


def test_the_schedule_follows_the_plan() -> None:
    model = nn.Linear(1, 1)
    stage = _stage(model, [0.1, 0.2])
    stage = dataclasses.replace(stage, plan=dataclasses.replace(stage.plan, epochs=2))
    ctx = _context()
    fit(stage, ctx)
    assert ctx.steps == 8 and [row["step"] for row in ctx.rows] == [4, 8]
    assert ctx.images == 8 * 16
