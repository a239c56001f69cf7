"""``softmax-ce``: softmax cross-entropy over the classes, with optional label smoothing."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from toolkit.errors import ToolkitError
from toolkit.registry import Float, LossTarget, losses


@losses.register("softmax-ce", space={"label_smoothing": Float(0.0, 0.3)})
class SoftmaxCrossEntropy(nn.Module):
    """Softmax cross-entropy on num_classes logits, with optional label smoothing."""

    target: LossTarget = "logits"  # contract (LogitLoss): consumes the head's logits

    def __init__(
        self,
        num_classes: int,
        label_smoothing: float = 0.0,  # mass spread over all classes, in [0, 1); 0 = none
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ToolkitError(f"softmax-ce needs at least 2 classes, got {num_classes}.")
        if not 0.0 <= label_smoothing < 1.0:
            raise ToolkitError(
                f"softmax-ce label_smoothing must be in [0, 1), got {label_smoothing}; try 0.1."
            )
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing

    def logits_dim(self, num_classes: int) -> int:  # contract (LogitLoss)
        """One logit per class."""
        return num_classes

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:  # contract: (B, K) -> (B, K)
        """Softmax over the classes."""
        return logits.float().softmax(dim=1)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # logits: (B, K); labels: (B,) int64
        return F.cross_entropy(logits.float(), labels, label_smoothing=self.label_smoothing)
