"""A third-party encoder: a plain nn.Module found through its entry point, never registered.

toolkit reads everything it needs from the class: the summary from the docstring, the
parameters from ``__init__`` and the default search space from ``search_space``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from toolkit.registry import Float, Int


class TinyEncoder(nn.Module):
    """Tiny conv encoder: one 3x3 conv, global average pool, linear embedding."""

    search_space: ClassVar[dict[str, Int | Float]] = {
        "width": Int(2, 16, log=True),
        "dropout": Float(0.0, 0.5),
    }

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        width: int = 4,  # conv channels
        embedding_dim: int = 8,  # size of the output features
        dropout: float = 0.0,  # dropout before the embedding layer
    ) -> None:
        super().__init__()
        self.out_dim = embedding_dim
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(width, embedding_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, D)
        return self.net(x)
