"""supcon matches a slow, literal implementation of Khosla et al.'s L_out."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from toolkit.errors import ToolkitError
from toolkit.registry import losses


def _reference(emb: torch.Tensor, labels: torch.Tensor, temperature: float) -> float:
    z = F.normalize(emb.double(), dim=1)
    n, lab = len(labels), labels.tolist()
    per_anchor = []
    for i in range(n):
        positives = [j for j in range(n) if j != i and lab[j] == lab[i]]
        if not positives:
            continue  # anchors without positives are left out
        denom = sum(math.exp(float(z[i] @ z[a]) / temperature) for a in range(n) if a != i)
        terms = [math.log(math.exp(float(z[i] @ z[p]) / temperature) / denom) for p in positives]
        per_anchor.append(-sum(terms) / len(positives))
    return sum(per_anchor) / len(per_anchor)


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_matches_reference(temperature: float) -> None:
    torch.manual_seed(0)
    emb = torch.randn(10, 6)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])  # class 3 has no positive
    loss_fn = losses.create("supcon", num_classes=4, temperature=temperature)
    got = loss_fn(emb, labels)
    assert got.item() == pytest.approx(_reference(emb, labels, temperature), rel=1e-5)
    assert loss_fn.last_num_anchors == 9


def test_gradients_are_finite_for_identical_embeddings() -> None:
    emb = torch.ones(4, 3, requires_grad=True)
    loss = losses.create("supcon", num_classes=2)(emb, torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(emb.grad).all()


@pytest.mark.parametrize("labels", [[1, 1, 1, 1], [0, 1, 2, 3]], ids=["one-class", "no-pairs"])
def test_a_batch_without_anchors_raises(labels: list[int]) -> None:
    loss_fn = losses.create("supcon", num_classes=4)
    with pytest.raises(ToolkitError, match="at least 2 classes and a class with 2"):
        loss_fn(torch.randn(4, 3), torch.tensor(labels))
