"""``convnet4``: the course assignment's CNN, layer for layer (the reference baseline)."""

from __future__ import annotations

import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.registry import Choice, Float, encoders


@encoders.register(
    "convnet4",
    space={
        "embedding_dim": Choice((64, 128, 256)),
        "dropout": Float(0.0, 0.5),
        "train.lr": Float(1e-4, 1e-2, log=True),
    },
)
class ConvNet4(nn.Module):
    """The assignment's CNN: 4 conv-BN-ReLU (64-64-128-128), 2 max-pools, FC 4096, embedding."""

    out_dim: int  # contract (Encoder): embedding_dim, the size of the features forward returns

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        embedding_dim: int = 128,  # size of the output features (the assignment's last Linear)
        hidden: int = 4096,  # width of the fully connected layer (the assignment's 4096)
        dropout: float = 0.1,  # dropout after the hidden layer (the assignment's 0.1)
    ) -> None:
        super().__init__()
        if embedding_dim < 1 or hidden < 1:
            raise ToolkitError(
                f"convnet4 needs embedding_dim >= 1 and hidden >= 1, got {embedding_dim} and "
                f"{hidden}; set positive sizes."
            )
        if not 0.0 <= dropout < 1.0:
            raise ToolkitError(f"convnet4 dropout must be in [0, 1), got {dropout}.")
        if image_size < 4:
            raise ToolkitError(
                f"convnet4 needs images of at least 4x4 pixels (it pools twice), got {image_size}."
            )
        self.out_dim = embedding_dim
        pooled = image_size // 2 // 2  # two 2x2 max-pools, floor like nn.MaxPool2d
        self.features = nn.Sequential(
            _conv_bn_relu(in_channels, 64),
            _conv_bn_relu(64, 64),
            nn.MaxPool2d(2),
            _conv_bn_relu(64, 128),
            _conv_bn_relu(128, 128),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * pooled * pooled, hidden),  # 8192 -> 4096 for 32x32 images
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, embedding_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, embedding_dim)
        return self.head(self.features(x))


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )
