"""Shared helpers for the plugin tests: how to build each registered plugin cheaply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from toolkit.registry import Choice, Dimension, Float, Int
from toolkit.train.config import field_names

# Names to build registered plugins under in tests (a tiny timm model; nothing is downloaded).
CREATE_AS = {"timm": "timm:test_resnet"}
# Parameters that keep contract tests fast without changing the architecture's shape contract
# (convnet4's default 4096-wide layer is checked in test_convnet4.py).
CHEAP: dict[str, dict[str, Any]] = {"convnet4": {"hidden": 256}}

# A plugin may tune any training field (train.lr, train.head_lr, ...), nothing else.
TRAIN_KEYS = {f"train.{name}" for name in field_names() if name not in ("encoder", "loss", "head")}


def space_samples(dim: Dimension) -> list[Any]:
    """Values a search dimension can produce: both ends of a range, or every choice."""
    if isinstance(dim, Choice):
        return list(dim.choices)
    if isinstance(dim, Int):
        return [dim.low, dim.high]
    assert isinstance(dim, Float)
    return [dim.low, dim.high]


def assert_grads_reach(module: torch.nn.Module, nonzero: bool = True) -> None:
    """Every trainable parameter got a finite gradient (not all zero, when ``nonzero``).

    ``nonzero=False`` is for third-party models whose init zeroes a gradient on purpose (timm
    ResNets zero the last BN scale of each residual branch, so the first step cannot reach the
    branch's convs).
    """
    trainable = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    assert trainable or not list(module.parameters())
    for name, param in trainable:
        assert param.grad is not None, f"no gradient reached {name}"
        assert torch.isfinite(param.grad).all(), f"non-finite gradient in {name}"
        if nonzero:
            assert param.grad.abs().sum() > 0, f"zero gradient in {name}"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """Run these tiny-tensor tests on one torch thread.

    On a busy 2-core machine every op of a 2-thread pool waits for the other core: the suite
    took 45 s instead of 5 s.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def check_info(info: Any, build: Any) -> dict[str, Any]:
    """Shared contract of ``info()``: status ok, a summary, typed defaulted parameters, and a
    search space whose keys are parameters or train.* fields and whose values all build.

    ``build(**{param: value})`` creates the plugin; returns the parameters by name.
    """
    assert info.status == "ok", info.error
    assert info.summary
    params = {p.name: p for p in info.params}
    for p in params.values():
        assert not p.required and p.annotation, f"{info.name}: {p.name} needs a default and a type"
    for key, dim in info.space.items():
        dim.validate(key)
        assert key in params or key in TRAIN_KEYS
        if key in params:
            for value in space_samples(dim):
                build(**{key: value})
    return params
