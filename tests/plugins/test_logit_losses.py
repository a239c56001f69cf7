"""bce and softmax-ce: values, probabilities and the two-class requirement of bce."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from toolkit.errors import ToolkitError
from toolkit.registry import Float, losses


def test_bce_uses_one_logit_for_the_second_class() -> None:
    loss_fn = losses.create("bce", num_classes=2)
    assert loss_fn.logits_dim(2) == 1
    logits = torch.tensor([[2.0], [-1.0], [0.5]])  # (B, 1)
    labels = torch.tensor([1, 0, 0])
    expected = F.binary_cross_entropy_with_logits(logits[:, 0], labels.float())
    assert torch.allclose(loss_fn(logits, labels), expected)
    probs = loss_fn.probabilities(logits)
    assert torch.allclose(probs[:, 1], torch.sigmoid(logits[:, 0]))
    assert torch.allclose(probs.sum(dim=1), torch.ones(3))


def test_bce_needs_exactly_two_classes() -> None:
    with pytest.raises(ToolkitError, match=r"bce needs exactly 2 classes.*data\.classes=a,b"):
        losses.create("bce", num_classes=3)


def test_bce_tunes_the_training_l2() -> None:
    # The assignment's L2 penalty is a training setting (--set l2=0.1) that bce's space tunes.
    info = losses.info("bce")
    assert info.params == () and info.space == {"train.l2": Float(1e-4, 1.0, log=True)}


def test_softmax_ce_with_label_smoothing() -> None:
    loss_fn = losses.create("softmax-ce", num_classes=4, label_smoothing=0.1)
    logits = torch.randn(5, 4)
    labels = torch.tensor([0, 1, 2, 3, 0])
    expected = F.cross_entropy(logits, labels, label_smoothing=0.1)
    assert torch.allclose(loss_fn(logits, labels), expected)
    assert loss_fn.logits_dim(4) == 4
    assert torch.allclose(loss_fn.probabilities(logits), logits.softmax(dim=1))
    with pytest.raises(ToolkitError, match="label_smoothing"):
        losses.create("softmax-ce", num_classes=4, label_smoothing=1.0)
