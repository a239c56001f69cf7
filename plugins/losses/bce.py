"""``bce``: binary cross-entropy on a single logit, for two-class tasks."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from toolkit.errors import ToolkitError
from toolkit.registry import Float, LossTarget, losses


# The assignment trained bce with an L2 penalty of 0.1: a training setting (--set l2=0.1).
@losses.register("bce", space={"train.l2": Float(1e-4, 1.0, log=True)})
class BinaryCrossEntropy(nn.Module):
    """Binary cross-entropy on one logit for two classes; the second class is the positive."""

    target: LossTarget = "logits"  # contract (LogitLoss): consumes the head's logits

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        if num_classes != 2:
            raise ToolkitError(
                f"bce needs exactly 2 classes, got {num_classes}; choose two classes with "
                "--set data.classes=a,b (or use softmax-ce)."
            )
        self.num_classes = num_classes

    def logits_dim(self, num_classes: int) -> int:  # contract (LogitLoss)
        """One logit: the log-odds of the second class."""
        return 1

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:  # contract: (B, 1) -> (B, 2)
        """[P(first class), P(second class)] from the single logit."""
        positive = torch.sigmoid(logits.reshape(-1, 1).float())  # (B, 1)
        return torch.cat([1.0 - positive, positive], dim=1)  # (B, 2)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # logits: (B, 1) or (B,); labels: (B,) int64 in {0, 1}
        return F.binary_cross_entropy_with_logits(
            logits.reshape(-1).float(), labels.reshape(-1).float()
        )
