"""``linear-probe``: a linear classifier on frozen encoder features."""

from __future__ import annotations

import torch
from torch import nn

from toolkit.registry import Float, heads


@heads.register(
    "linear-probe",
    space={
        "train.head_lr": Float(1e-4, 3e-2, log=True),  # the frozen-feature stage's rate
        "train.weight_decay": Float(1e-5, 1e-1, log=True),
    },
)
class LinearProbe(nn.Module):
    """Linear classifier on frozen encoder features (features are extracted once)."""

    trains_encoder: bool = False  # contract (Head): the encoder stays frozen; only this trains

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        standardize: bool = True,  # scale features to zero mean, unit variance first
    ) -> None:
        super().__init__()
        # Frozen features come at any scale (raw pixels, unnormalised embeddings); a BatchNorm
        # without affine parameters standardises them, as linear probes usually do. At
        # inference it is a fixed affine map, so the classifier stays linear in the features.
        self.norm = nn.BatchNorm1d(in_features, affine=False) if standardize else nn.Identity()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, num_classes)
        return self.fc(self.norm(features))
