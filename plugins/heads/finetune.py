"""``finetune``: a linear classifier trained end to end with the encoder.

How fast the encoder trains under it and where its weights start are training settings, not
parameters of the head: ``--set encoder_lr_scale=0.1`` and ``--set init_from=RUN``.
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.registry import Float, heads


@heads.register(
    "finetune",
    space={"dropout": Float(0.0, 0.5), "train.encoder_lr_scale": Float(0.01, 1.0, log=True)},
)
class FinetuneHead(nn.Module):
    """Dropout + linear classifier, trained end to end together with the encoder."""

    # contract (Head): the encoder trains too, at lr * encoder_lr_scale (a training setting)
    trains_encoder: bool = True

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        dropout: float = 0.0,  # dropout on the features before the classifier, in [0, 1)
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ToolkitError(f"finetune dropout must be in [0, 1), got {dropout}.")
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, num_classes))

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, num_classes)
        return self.net(features)
