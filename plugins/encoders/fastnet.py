"""``fastnet``: a small, fast CNN for small images, after Keller Jordan's airbench94.

airbench94 trains CIFAR-10 to 94% in seconds on a GPU. Its network is a 2x2 stem conv and
three conv groups (conv3x3 -> max-pool -> BN -> GELU -> conv3x3 -> BN -> GELU) of widths
64/256/256, then a global max-pool; convs start as partial identities ("dirac" init), which
works like an implicit residual. This encoder keeps that design and adds what a general
encoder needs: any channel count, any square size >= 8 (a group pools only while the map is
at least 4x4, so BatchNorm never sees a 1x1 map), a width multiplier, a depth (convs per
group: airbench96's 3 adds a conv and a residual), and no classifier (the head adds one).
airbench's training tricks are training settings (``lookahead``, ``bias_lr_scale``,
``flip_mode``), except its frozen patch-whitening stem, which needs the
network: with ``whiten=True`` the stem's weights are frozen, and :meth:`FastNet.init_from_data`
(the encoder hook the trainer calls once, with training images, before a fresh encoder trains)
sets them to the whitening filters of the images' 2x2 patches.
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.registry import Choice, Float, encoders

BASE_WIDTHS = (64, 256, 256)  # airbench94's group widths, scaled by `width`
WHITEN_EPS = 5e-4  # added to the patch covariance's eigenvalues (airbench94's eps)


@encoders.register(
    "fastnet",
    space={
        "width": Choice((0.5, 0.75, 1.0)),
        "train.lr": Float(1e-4, 1e-2, log=True),
        "train.weight_decay": Float(1e-5, 1e-1, log=True),
    },
)
class FastNet(nn.Module):
    """airbench94-style CNN: 2x2 stem, 3 conv groups with max-pool, global max-pool."""

    out_dim: int  # contract (Encoder): the last group's width, the size of the features

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        width: float = 0.5,  # multiplier on widths 64/256/256; 0.5 is fastest per accuracy on CPU
        whiten: bool = False,  # airbench's frozen stem, whitening 2x2 patches (init_from_data)
        depth: int = 2,  # convs per group: 2 as airbench94, 3 as airbench96 (a residual added)
    ) -> None:
        super().__init__()
        if not 0.0 < width <= 8.0:
            raise ToolkitError(f"fastnet width must be in (0, 8], got {width}; try 0.5 or 1.0.")
        if not 2 <= depth <= 8:
            raise ToolkitError(f"fastnet depth (convs per group) must be 2 to 8, got {depth}.")
        if image_size < 3:
            raise ToolkitError(f"fastnet needs images of at least 3x3 pixels, got {image_size}.")
        widths = [_round_to_8(base * width) for base in BASE_WIDTHS]
        stem_width = 2 * in_channels * 2 * 2  # airbench: 2x the patch size of the 2x2 stem
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_width, kernel_size=2, padding=0, bias=True),
            nn.GELU(),
        )
        self.whiten = whiten
        if whiten:  # frozen from the start, so weights loaded from a checkpoint stay frozen too
            self.stem[0].weight.requires_grad_(False)
        groups, cin = [], stem_width
        for cout in widths:
            groups.append(ConvGroup(cin, cout, depth))
            cin = cout
        self.groups = nn.Sequential(*groups)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.out_dim = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, out_dim)
        x = self.stem(x)  # (B, S, H-1, W-1)
        x = self.groups(x)  # (B, out_dim, h, w), h and w >= 2 unless the input was tiny
        return self.pool(x).flatten(1)  # (B, out_dim)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:  # x: (N, C, H, W) normalised images
        """With ``whiten``: the stem's filters whiten the 2x2 patches of ``x`` (airbench94).

        Each eigenvector ``v`` of the patches' (uncentred) covariance, with eigenvalue ``l``,
        gives the filters ``v / sqrt(l + eps)`` and its negative (GELU would drop the negative
        half of the whitened patch), largest eigenvalue first; the bias starts at 0 and trains
        (airbench trains it for its first 3 epochs, then freezes it). Without: nothing.
        """
        if not self.whiten:
            return
        conv = self.stem[0]
        filters = whitening_filters(x, conv.kernel_size[0])
        conv.weight.copy_(torch.cat([filters, -filters]))
        conv.bias.zero_()


class ConvGroup(nn.Module):
    """conv3x3 -> max-pool (while the map is >= 4x4) -> BN -> GELU -> conv3x3 -> BN -> GELU;
    with ``depth`` > 2 more conv3x3 -> BN -> GELU follow, and the pooled map is added to the
    group's output (airbench96's group at depth 3)."""

    def __init__(self, cin: int, cout: int, depth: int = 2) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, kernel_size=3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(cout)
        self.act = nn.GELU()
        # No modules at depth 2, so depth-2 checkpoints keep their keys.
        self.extra = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(cout, cout, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.GELU(),
            )
            for _ in range(depth - 2)
        )
        for conv in (self.conv1, self.conv2, *(block[0] for block in self.extra)):
            _partial_identity_(conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, cin, H, W) -> (B, cout, h, w)
        x = self.conv1(x)
        if min(x.shape[-2:]) >= 4:  # pooling a smaller map would leave BatchNorm too few values
            x = self.pool(x)
        x = self.act(self.norm1(x))
        out = self.act(self.norm2(self.conv2(x)))
        for block in self.extra:
            out = block(out)
        return out + x if len(self.extra) else out


def whitening_filters(x: torch.Tensor, k: int, eps: float = WHITEN_EPS) -> torch.Tensor:
    """(D, C, k, k) filters, D = C*k*k, mapping the k x k patches of ``x`` (N, C, H, W) to
    (near) identity covariance: the eigenvectors of the patches' covariance scaled by
    1 / sqrt(eigenvalue + eps), largest eigenvalue first."""
    c = x.shape[1]
    d = c * k * k
    cov = torch.zeros(d, d, dtype=torch.float64)
    count = 0
    per_chunk = max(1, 2**20 // (x.shape[2] * x.shape[3]))  # ~1M pixels: bounded memory
    for chunk in x.split(per_chunk):
        patches = chunk.float().unfold(2, k, 1).unfold(3, k, 1)  # (B, C, H-k+1, W-k+1, k, k)
        flat = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, d)  # (P, C*k*k), conv order
        cov += (flat.T @ flat).cpu().double()
        count += flat.shape[0]
    eigenvalues, eigenvectors = torch.linalg.eigh(cov / max(count, 1))  # ascending
    filters = eigenvectors.T / (eigenvalues + eps).sqrt().unsqueeze(1)  # (D, D): one per row
    return filters.flip(0).reshape(d, c, k, k).to(x.device, torch.float32)


@torch.no_grad()
def _partial_identity_(weight: torch.Tensor) -> None:
    # airbench's dirac init: the first min(cin, cout) filters pass their channel through,
    # so each group starts close to identity and trains like a residual block.
    cout, cin = weight.shape[:2]
    nn.init.dirac_(weight[: min(cin, cout)])


def _round_to_8(value: float) -> int:
    return max(8, round(value / 8) * 8)
