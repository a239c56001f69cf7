"""Lookahead: slow and fast weights by hand, BatchNorm statistics synced, and in the loop."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from tests.train._toy import toy_context, toy_stage
from toolkit.train.lookahead import LOOKAHEAD_K, Lookahead
from toolkit.train.loop import Stage, fit


def test_slow_and_fast_weights_are_the_hand_computed_ones() -> None:
    """Loss = w (gradient 1), plain SGD at lr 0.1: the fast weight drops 0.1 a step; at step
    k = 5 the slow weight moves halfway (alpha 0.5) to it and the fast one restarts there."""
    w = nn.Parameter(torch.tensor([2.0]))
    holder = nn.Module()
    holder.w = w
    opt = torch.optim.SGD([w], lr=0.1)
    look = Lookahead([holder], alpha=0.5)
    assert look.k == LOOKAHEAD_K == 5
    seen = []
    for _ in range(2 * LOOKAHEAD_K):
        opt.zero_grad()
        w.sum().backward()
        opt.step()
        look.update()
        seen.append((float(w.detach()), float(look.slow[0])))
    fast, slow = zip(*seen, strict=True)
    # steps 1-4: fast 1.9 .. 1.6, slow 2.0; step 5: fast 1.5 -> slow = 2 + 0.5 * (1.5 - 2),
    # and the fast weight restarts there
    assert fast[:5] == pytest.approx([1.9, 1.8, 1.7, 1.6, 1.75])
    assert slow[:5] == pytest.approx([2.0, 2.0, 2.0, 2.0, 1.75])
    # steps 6-10 start from 1.75: fast 1.25 at step 10 -> slow = 1.75 + 0.5 * (1.25 - 1.75)
    assert fast[5:] == pytest.approx([1.65, 1.55, 1.45, 1.35, 1.5])
    assert slow[5:] == pytest.approx([1.75, 1.75, 1.75, 1.75, 1.5])


def test_batchnorm_statistics_are_synced_and_counts_kept() -> None:
    bn = nn.BatchNorm1d(2)
    look = Lookahead([bn], alpha=0.25, k=1)
    start_mean = bn.running_mean.clone()
    bn.train()
    bn(torch.randn(16, 2) + 4.0)
    fast_mean = bn.running_mean.clone()
    look.update()
    assert torch.allclose(bn.running_mean, start_mean + 0.25 * (fast_mean - start_mean))
    assert int(bn.num_batches_tracked) == 1  # integer buffers keep counting


N = 80  # training rows: 5 steps of 16, one epoch


def _stage(model: nn.Linear) -> Stage:
    return toy_stage(model, lambda: {"score": 0.5, "value": 0.5}, n=N, epochs=1)


def _fitted(**config: Any) -> nn.Linear:
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    fit(_stage(model), toy_context(**config))
    return model


def test_the_loop_syncs_after_k_steps() -> None:
    """The loop's 5 steps with lookahead end at start + alpha * (the same 5 steps without)."""
    torch.manual_seed(0)
    start = nn.Linear(1, 1).weight.detach().clone()
    fast = _fitted(optimizer="sgd", momentum=0.9).weight.detach()
    synced = _fitted(optimizer="sgd", momentum=0.9, lookahead=0.5).weight.detach()
    assert not torch.allclose(fast, start)
    assert torch.allclose(synced, start + 0.5 * (fast - start), atol=1e-6)
