"""``finetune``: a linear classifier trained end to end with the encoder."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.registry import Float, heads


@heads.register(
    "finetune",
    space={"dropout": Float(0.0, 0.5), "encoder_lr_scale": Float(0.01, 1.0, log=True)},
)
class FinetuneHead(nn.Module):
    """Dropout + linear classifier, trained end to end together with the encoder."""

    trains_encoder = True  # the encoder trains too (its lr = train lr * encoder_lr_scale)

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        dropout: float = 0.0,  # dropout on the features before the classifier, in [0, 1)
        encoder_lr_scale: float = 1.0,  # encoder lr = train lr * this; < 1 for pretrained ones
        init_from: str = "",  # run id/folder or encoder .safetensors to start from; "" = fresh
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ToolkitError(f"finetune dropout must be in [0, 1), got {dropout}.")
        if encoder_lr_scale < 0:
            raise ToolkitError(
                f"finetune encoder_lr_scale must be >= 0, got {encoder_lr_scale}; "
                "1.0 trains the encoder at the head's learning rate."
            )
        path = Path(init_from).expanduser()
        # A run id or folder is resolved by the core; only a named file can be checked here.
        if init_from and path.suffix == ".safetensors" and not path.is_file():
            raise ToolkitError(
                f"finetune init_from '{init_from}' does not exist; pass an existing encoder "
                ".safetensors file, a run folder or a run id."
            )
        if init_from and path.is_file() and path.suffix != ".safetensors":
            raise ToolkitError(
                f"finetune init_from '{init_from}' is not a .safetensors file; pass a run "
                "folder, a run id or an encoder .safetensors checkpoint."
            )
        self.encoder_lr_scale = float(encoder_lr_scale)
        self.init_from = init_from
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, num_classes))

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, num_classes)
        return self.net(features)
