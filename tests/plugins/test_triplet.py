"""triplet: the loss value, the semi-hard fallback and the zero-triplet error."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from toolkit.errors import ToolkitError
from toolkit.registry import losses


def _loss(**params: object) -> torch.nn.Module:
    return losses.create("triplet", num_classes=3, **params)


def test_value_matches_a_direct_computation_with_batch_hard() -> None:
    emb = torch.tensor([[0.0], [1.0], [3.5], [2.0], [6.0]])
    labels = torch.tensor([0, 0, 0, 1, 1])
    loss_fn = _loss(mining="batch-hard", margin=1.0)
    # (a, p, n) = (0,2,3), (1,2,3), (2,0,3), (3,4,1), (4,3,2): see test_mining
    d_ap = torch.tensor([3.5, 2.5, 3.5, 4.0, 4.0])
    d_an = torch.tensor([2.0, 1.0, 1.5, 1.0, 2.5])
    expected = (d_ap - d_an + 1.0).clamp(min=0).mean()
    assert torch.allclose(loss_fn(emb, labels), expected, atol=1e-4)
    assert loss_fn.last_num_triplets == 5


@pytest.mark.parametrize("mining", ["all", "semi-hard", "batch-hard"])
def test_normalize_and_p_norm(mining: str) -> None:
    torch.manual_seed(0)
    emb = torch.randn(12, 4, requires_grad=True)
    labels = torch.arange(12) % 3
    loss_fn = _loss(mining=mining, normalize=True, p=1, margin=0.5)
    loss = loss_fn(emb, labels)
    assert loss_fn.last_num_triplets > 0 and torch.isfinite(loss)
    loss.backward()
    assert emb.grad is not None


def test_semi_hard_falls_back_to_hardest_negatives() -> None:
    # Class 0 at 0 and 10, class 1 at 1: every negative is closer than the positive (hard),
    # so no triplet is semi-hard; the fallback uses the hardest negative instead.
    emb = torch.tensor([[0.0], [10.0], [1.0]])
    labels = torch.tensor([0, 0, 1])
    loss_fn = _loss(mining="semi-hard", margin=1.0)
    loss = loss_fn(emb, labels)
    assert loss_fn.last_num_triplets == 2  # one per positive pair: the fallback's triplets
    a, p, n = emb[[0, 1]], emb[[1, 0]], emb[[2, 2]]
    assert torch.allclose(loss, F.triplet_margin_loss(a, p, n, margin=1.0))
    assert torch.allclose(loss, torch.tensor(6.0), atol=1e-4)  # (10 - 1 + 1 + 10 - 9 + 1) / 2


@pytest.mark.parametrize("mining", ["all", "semi-hard", "batch-hard"])
@pytest.mark.parametrize("labels", [[1, 1, 1, 1], [0, 1, 2, 3]], ids=["one-class", "no-pairs"])
def test_a_batch_without_triplets_raises(mining: str, labels: list[int]) -> None:
    loss_fn = _loss(mining=mining)
    with pytest.raises(ToolkitError, match=r"no triplet.*at least 2 classes and a class with 2"):
        loss_fn(torch.randn(4, 3), torch.tensor(labels))


def test_bad_parameters_raise() -> None:
    with pytest.raises(ToolkitError, match="mining"):
        _loss(mining="hardest")
    with pytest.raises(ToolkitError, match="margin"):
        _loss(margin=0.0)
