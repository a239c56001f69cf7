"""EMA of the weights: the average by hand, BatchNorm buffers, which weights a stage keeps, a
digits run that records it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from tests.train._toy import toy_context, toy_stage
from toolkit.data import Competition
from toolkit.train import TrainConfig, train
from toolkit.train.ema import EMA
from toolkit.train.loop import Context, Stage, fit

N = 64  # training rows of the toy stage


class Scalar(nn.Module):
    """One parameter ``w``."""

    def __init__(self, w: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([w]))


def test_the_average_is_the_hand_computed_one() -> None:
    """w starts at 1 and SGD (lr 1) steps it by known gradients: the EMA is, update by update,
    avg = d * avg + (1 - d) * w with d = min(decay, (1 + n) / (10 + n))."""
    module = Scalar(1.0)
    ema = EMA([module], decay=0.5)
    opt = torch.optim.SGD(module.parameters(), lr=1.0)
    grads = [0.5, -2.0, 1.0, 3.0, 0.25, -1.0]
    w, avg = 1.0, 1.0
    for n, g in enumerate(grads):
        opt.zero_grad()
        (module.w * g).sum().backward()  # d/dw (g * w) = g
        opt.step()
        ema.update()
        w -= g
        d = min(0.5, (1 + n) / (10 + n))
        avg = d * avg + (1 - d) * w
    assert float(module.w) == pytest.approx(w) == -0.75
    assert float(ema.average[0]) == pytest.approx(avg, abs=1e-6)
    assert abs(float(ema.average[0]) - w) > 0.2  # the average is not the raw weight
    ema.updates = 1000
    assert ema.current_decay() == 0.5  # after the warm-up: the decay asked for


def test_batchnorm_statistics_are_averaged_and_counts_copied() -> None:
    bn = nn.BatchNorm1d(3)
    ema = EMA([bn], decay=0.9)
    before = bn.running_mean.clone()  # zeros
    bn(torch.randn(8, 3) + 5.0)  # training forward: running_mean moves, one batch tracked
    ema.update()  # first update: decay 0.1
    mean, _, count = (ema.average[i] for i in (2, 3, 4))  # weight, bias, mean, var, count
    assert torch.allclose(mean, 0.1 * before + 0.9 * bn.running_mean)
    assert count.dtype == torch.int64 and int(count) == int(bn.num_batches_tracked) == 1


def test_applied_puts_the_average_in_and_restores_exactly() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = EMA(list(model), decay=0.9)
    raw = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    moved = {k: v.clone() for k, v in model.state_dict().items()}
    ema.update()
    with ema.applied():
        inside = {k: v.clone() for k, v in model.state_dict().items()}
        model[1].reset_running_stats()  # an evaluation may recompute BatchNorm statistics
    after = model.state_dict()
    for k in raw:
        assert torch.equal(after[k], moved[k])  # exactly as before the block
    w = "0.weight"
    assert torch.allclose(inside[w], 0.1 * raw[w] + 0.9 * moved[w])


# -- a stage of the loop with an EMA -----------------------------------------------------------


def _stage(model: nn.Linear, score: Any, seen: list[float]) -> Stage:
    """A linear model fitting y = 2x; ``score(w)`` scores the weight the evaluation sees."""

    def evaluate() -> dict[str, Any]:
        w = float(model.weight.detach())
        seen.append(w)
        s = score(w)
        return {"score": s, "value": s}

    return toy_stage(model, evaluate, n=N, epochs=4)  # 4 steps an epoch


def _context(**config: Any) -> Context:
    return toy_context(**config)


def _model() -> nn.Linear:
    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(0.0)
        model.bias.fill_(0.0)
    return model


def test_the_ema_is_scored_and_kept_when_it_scores_better() -> None:
    """Scored by closeness to the starting weight: the lagging average wins."""
    model, seen = _model(), []
    stage = _stage(model, lambda w: -abs(w), seen)
    ctx = _context(ema=0.9)
    fit(stage, ctx)
    assert ctx.evals == 4 and len(seen) == 5  # 4 evaluations of the EMA, then the raw weights
    raw_last = seen[-1]
    assert 0 < seen[0] < raw_last  # the average lags the raw weights (moving from 0 towards 2)
    record = ctx.ema["head"]
    assert record["kept"] == "ema" and record["ema_score"] == -seen[0] > record["raw_score"]
    assert float(model.weight.detach()) == pytest.approx(seen[0])  # the best EMA weights


def test_the_raw_weights_are_kept_when_they_score_better() -> None:
    """Scored by closeness to the target 2: the raw last weights beat every average."""
    model, seen = _model(), []
    stage = _stage(model, lambda w: -abs(w - 2.0), seen)
    ctx = _context(ema=0.9)
    fit(stage, ctx)
    ema_seen, raw_last = seen[:-1], seen[-1]
    assert all(w < raw_last for w in ema_seen)  # each evaluation scored the average
    record = ctx.ema["head"]
    assert record["kept"] == "raw" and record["raw_score"] > record["ema_score"]
    assert float(model.weight.detach()) == pytest.approx(raw_last)


def test_without_validation_the_last_average_is_kept() -> None:
    model, seen = _model(), []
    stage = _stage(model, lambda w: None, seen)
    ctx = _context(ema=0.9)
    fit(stage, ctx)
    assert len(seen) == 4 and ctx.ema["head"] == {"decay": 0.9, "kept": "ema"}
    assert float(model.weight.detach()) == pytest.approx(seen[-1])
    raw = _model()
    fit(_stage(raw, lambda w: None, []), _context())  # the same steps without an EMA
    assert float(raw.weight.detach()) > seen[-1]  # the raw weights went further


def test_a_digits_run_with_mixup_and_ema_records_them(digits: Competition, runs_dir: Path) -> None:
    cfg = TrainConfig(
        encoder="pixels", head="finetune", epochs=4, batch_size=64, lr=0.05, mixup=0.2, ema=0.99
    )
    result = train(cfg, digits, quiet=True)
    assert result.status == "completed" and result.metrics["val_acc"] >= 0.8
    record = json.loads((result.path / "run.json").read_text())
    assert record["config"]["mixup"] == 0.2 and record["config"]["ema"] == 0.99
    ema = record["ema"]["finetune"]
    assert ema["kept"] in ("ema", "raw") and ema["decay"] == 0.99
    kept = ema["ema_score"] if ema["kept"] == "ema" else ema["raw_score"]
    assert kept == max(ema["ema_score"], ema["raw_score"])
    assert kept == pytest.approx(result.metrics["val_acc"], abs=1e-3)  # what was saved
