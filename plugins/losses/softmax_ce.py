"""``softmax-ce``: softmax cross-entropy over the classes, with optional label smoothing."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from toolkit.errors import ToolkitError
from toolkit.registry import Float, losses


@losses.register("softmax-ce", space={"label_smoothing": Float(0.0, 0.3)})
class SoftmaxCrossEntropy(nn.Module):
    """Softmax cross-entropy on num_classes logits, with optional label smoothing."""

    target = "logits"  # consumes the head's logits

    def __init__(
        self,
        num_classes: int,
        label_smoothing: float = 0.0,  # mass spread over all classes, in [0, 1); 0 = none
        l2: float = 0.0,  # L2 penalty lambda on trained weights, added by the core; 0 = none
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ToolkitError(f"softmax-ce needs at least 2 classes, got {num_classes}.")
        if not 0.0 <= label_smoothing < 1.0:
            raise ToolkitError(
                f"softmax-ce label_smoothing must be in [0, 1), got {label_smoothing}; try 0.1."
            )
        if l2 < 0:
            raise ToolkitError(f"softmax-ce l2 must be >= 0, got {l2}.")
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.l2 = float(l2)  # --set loss.l2=0 arrives as an int

    def logits_dim(self, num_classes: int) -> int:
        """One logit per class."""
        return num_classes

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:  # (B, K) -> (B, K)
        """Softmax over the classes."""
        return logits.float().softmax(dim=1)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # logits: (B, K); labels: (B,) int64
        return F.cross_entropy(logits.float(), labels, label_smoothing=self.label_smoothing)
