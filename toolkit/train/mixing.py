"""Mixup and CutMix: each training image is mixed with a partner from its own batch.

A batch is mixed with a permutation of itself: mixup blends whole images,
``lam * x + (1 - lam) * x[perm]``; CutMix pastes one box of the partners into the images (the
same box for the whole batch, as timm does). ``lam`` ~ Beta(alpha, alpha) is the weight of
the image's own label: the loss is ``lam * loss(out, y) + (1 - lam) * loss(out, y[perm])``,
so any logit loss that takes class indices takes mixed batches. When both are on, each batch is
one or the other (50/50, timm's rule). Every draw comes from the stage's seeded augmentation
generator, so runs stay deterministic; the images are mixed on their device, a batch at a time.

Only the stages that train through a logit head use it (``finetune``): an embedding loss
(triplet, supcon) has no mixed label to aim for. The last part of training sees clean images
(:data:`MIX_UNTIL`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.train.config import TrainConfig
    from toolkit.train.plan import Plan

# Stages mix batches until this fraction of their progress, then train on clean images: the
# model ends fitted to images like the ones it predicts (timm's `mixup_off_epoch`; 10% of
# training is the share its recipes commonly leave clean).
MIX_UNTIL = 0.9


@dataclass(frozen=True)
class Mixed:
    """A batch after mixing: its images and the two labels each one carries."""

    x: torch.Tensor  # (B, C, H, W) mixed images
    y_a: torch.Tensor  # (B,) each image's own label, weighted lam
    y_b: torch.Tensor  # (B,) its partner's label, weighted 1 - lam
    lam: float  # weight of y_a; 1.0: not mixed
    perm: torch.Tensor  # (B,) each image's partner in the batch
    kind: str  # "mixup" | "cutmix" | "none"

    def loss(
        self, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], out: torch.Tensor
    ) -> torch.Tensor:
        """``lam * loss_fn(out, y_a) + (1 - lam) * loss_fn(out, y_b)`` (one term unmixed)."""
        if self.lam >= 1.0:
            return loss_fn(out, self.y_a)
        return self.lam * loss_fn(out, self.y_a) + (1.0 - self.lam) * loss_fn(out, self.y_b)


class Mixing:
    """Mixes training batches while the stage's ``progress`` (set by the loop) is below
    :data:`MIX_UNTIL`; ``mixup`` and ``cutmix`` are Beta alphas, 0 = off."""

    def __init__(self, mixup: float, cutmix: float, generator: torch.Generator) -> None:
        self.mixup = mixup
        self.cutmix = cutmix
        self.generator = generator
        self.progress = 0.0  # the stage's progress in [0, 1], set before each step

    @property
    def active(self) -> bool:
        return (self.mixup > 0 or self.cutmix > 0) and self.progress < MIX_UNTIL

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> Mixed:
        """Mix the float batch ``x`` (B, C, H, W) with labels ``y`` (B,), or pass it on."""
        b = x.shape[0]
        if not self.active or b < 2:
            return Mixed(x, y, y, 1.0, torch.arange(b, device=x.device), "none")
        gen = self.generator
        use_cutmix = self.cutmix > 0 and (
            self.mixup <= 0 or bool(torch.rand((), generator=gen) < 0.5)
        )
        lam = _beta(self.cutmix if use_cutmix else self.mixup, gen)
        perm = torch.randperm(b, generator=gen).to(x.device)
        if use_cutmix:
            out, lam = cutmix(x, perm, lam, gen)
            return Mixed(out, y, y[perm], lam, perm, "cutmix")
        return Mixed(mixup(x, perm, lam), y, y[perm], lam, perm, "mixup")


def mixup(x: torch.Tensor, perm: torch.Tensor, lam: float) -> torch.Tensor:
    """``lam * x + (1 - lam) * x[perm]`` for a float batch (B, C, H, W)."""
    out = x.mul(lam).add_(x[perm], alpha=1.0 - lam)
    if out.shape[1] > 1:
        out = out.contiguous(memory_format=torch.channels_last)
    return out


def cutmix(
    x: torch.Tensor, perm: torch.Tensor, lam: float, generator: torch.Generator
) -> tuple[torch.Tensor, float]:
    """Paste a box of ``x[perm]`` into every image of ``x`` (B, C, H, W); return the batch and
    the weight of the images' own labels: 1 - the box's share of the area, after the box is
    clipped to the image (so the label weights match the pixels)."""
    h, w = x.shape[2], x.shape[3]
    side = float(np.sqrt(1.0 - lam))  # a box of (1 - lam) of the area, before clipping
    cut_h, cut_w = int(h * side), int(w * side)
    cy = int(torch.randint(0, h, (), generator=generator))
    cx = int(torch.randint(0, w, (), generator=generator))
    y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2 + cut_h % 2, h)
    x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2 + cut_w % 2, w)
    out = x.clone()
    out[:, :, y0:y1, x0:x1] = x[perm, :, y0:y1, x0:x1]  # only the box of each partner
    return out, 1.0 - (y1 - y0) * (x1 - x0) / (h * w)


def _beta(alpha: float, generator: torch.Generator) -> float:
    """One draw of Beta(alpha, alpha), seeded from ``generator`` (torch's Beta takes none)."""
    seed = int(torch.randint(0, 2**62, (), generator=generator))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def check(config: TrainConfig, plan: Plan) -> None:
    """Mixing needs a stage that trains through a logit head: refuse it otherwise (before the
    run starts), rather than ignore it."""
    if (config.mixup > 0 or config.cutmix > 0) and not any(
        s.name == "finetune" for s in plan.stages
    ):
        raise ToolkitError(
            f"mixup and cutmix mix images for a head trained end to end (head=finetune), but "
            f"head={config.head} trains on frozen features; set mixup=0 and cutmix=0, or use "
            "--head finetune."
        )
