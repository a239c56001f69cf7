"""The loss contract, checked for every registered loss.

``factory(num_classes, **params) -> nn.Module`` with ``target`` ("logits" | "embeddings");
logit losses add ``logits_dim(num_classes)`` and ``probabilities(logits)``; embedding losses add
``balanced_batches``. ``forward(outputs, labels) -> scalar``. The L2 penalty is a training
setting (``--set l2=``), never a loss parameter.
"""

from __future__ import annotations

import pytest
import torch
from conftest import check_info

from toolkit.errors import ToolkitError
from toolkit.registry import losses

NAMES = losses.names()


def _build(name: str, num_classes: int, **params: object) -> torch.nn.Module:
    try:
        return losses.create(name, num_classes=num_classes, **params)
    except ToolkitError as err:  # a loss may refuse a class count (bce takes exactly 2)
        pytest.skip(f"{name} refuses {num_classes} classes: {err}")


def _outputs(loss: torch.nn.Module, num_classes: int, batch: int = 16) -> torch.Tensor:
    torch.manual_seed(0)
    if loss.target == "logits":
        return torch.randn(batch, loss.logits_dim(num_classes), requires_grad=True)
    return torch.randn(batch, 8, requires_grad=True)  # (B, D) embeddings


def test_builtin_losses_are_registered() -> None:
    assert {"bce", "softmax-ce", "triplet", "supcon"} <= set(NAMES)


@pytest.mark.parametrize("num_classes", [2, 5])
@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_and_attributes(name: str, num_classes: int) -> None:
    loss_fn = _build(name, num_classes)
    assert loss_fn.target in ("logits", "embeddings")
    outputs = _outputs(loss_fn, num_classes)
    labels = torch.arange(16) % num_classes  # every class has 2+ items: embedding losses work
    loss = loss_fn(outputs, labels)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert outputs.grad is not None and torch.isfinite(outputs.grad).all()
    assert outputs.grad.abs().sum() > 0
    if loss_fn.target == "logits":
        dim = loss_fn.logits_dim(num_classes)
        assert isinstance(dim, int) and dim >= 1
        with torch.no_grad():
            probs = loss_fn.probabilities(outputs)
        assert probs.shape == (16, num_classes)
        assert (probs >= 0).all() and torch.allclose(probs.sum(dim=1), torch.ones(16))
    else:
        assert isinstance(type(loss_fn).balanced_batches, bool)


@pytest.mark.parametrize("name", NAMES)
def test_info_and_search_space(name: str) -> None:
    params = check_info(losses.info(name), lambda **kw: _build(name, 2, **kw))
    assert "l2" not in params, f"{name}: the L2 penalty is a training setting (--set l2=)"
