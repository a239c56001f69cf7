"""``mlp``: a small two-layer perceptron on frozen encoder features."""

from __future__ import annotations

import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.registry import Float, Int, heads


@heads.register(
    "mlp",
    space={
        "hidden": Int(64, 1024, log=True),
        "dropout": Float(0.0, 0.5),
        "train.head_lr": Float(1e-4, 3e-2, log=True),  # the frozen-feature stage's rate
        "train.weight_decay": Float(1e-5, 1e-1, log=True),
    },
)
class MLPHead(nn.Module):
    """Linear -> GELU -> Dropout -> Linear on frozen encoder features."""

    trains_encoder: bool = False  # contract (Head): the encoder stays frozen; only this trains

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: int = 256,  # units of the hidden layer
        dropout: float = 0.1,  # dropout on the hidden layer, in [0, 1)
    ) -> None:
        super().__init__()
        if hidden < 1:
            raise ToolkitError(f"mlp hidden must be >= 1, got {hidden}.")
        if not 0.0 <= dropout < 1.0:
            raise ToolkitError(f"mlp dropout must be in [0, 1), got {dropout}.")
        self.net = nn.Sequential(
            nn.BatchNorm1d(in_features, affine=False),  # standardise frozen features first
            nn.Linear(in_features, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, num_classes)
        return self.net(features)
