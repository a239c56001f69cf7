"""``pixels``: the normalised image itself, flattened (a baseline with no learned features)."""

from __future__ import annotations

import torch
from torch import nn

from toolkit.registry import encoders


@encoders.register("pixels")
class Pixels(nn.Module):
    """Raw pixels flattened to C*H*W features (with a linear head: softmax regression)."""

    out_dim: int  # contract (Encoder): C*H*W, the size of the features forward returns

    def __init__(self, in_channels: int, image_size: int) -> None:
        super().__init__()
        self.out_dim = in_channels * image_size * image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C*H*W)
        # flatten follows the logical (C, H, W) order, so channels_last input gives the same
        # features as contiguous input.
        return x.flatten(1)
