"""``linear-probe``: a linear classifier on frozen encoder features."""

from __future__ import annotations

import torch
from torch import nn

from toolkit.registry import Float, heads


@heads.register(
    "linear-probe",
    space={
        "train.lr": Float(1e-4, 1e-2, log=True),
        "train.weight_decay": Float(1e-5, 1e-1, log=True),
    },
)
class LinearProbe(nn.Module):
    """Linear classifier on frozen encoder features (features are extracted once)."""

    trains_encoder = False  # the encoder stays frozen; only this layer trains

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, num_classes)
        return self.fc(features)
