"""Data on the device as uint8 tensors, normalised and augmented a whole batch at a time.

No DataLoader and no per-sample Python: a batch is an index tensor, images are gathered,
converted to float, normalised with the train split's statistics and augmented with tensor ops.
Flips are random (p = 0.5 per image and epoch) or, with :class:`AlternatingFlips`, airbench's
alternating flips, which need each image's index and the epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass
class DeviceSplit:
    """One split kept on the device: ``x`` uint8 (N, C, H, W), ``y`` int64 (N,)."""

    x: torch.Tensor  # (N, C, H, W) uint8
    y: torch.Tensor  # (N,) int64; -1 where unknown (the test split)

    def __len__(self) -> int:
        return int(self.x.shape[0])


class Normalizer:
    """Turn uint8 batches into normalised float batches (channels_last where it helps)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, channels_last: bool = True) -> None:
        self.mean = mean.view(1, -1, 1, 1)  # (1, C, 1, 1), in [0, 1] units
        self.std = std.view(1, -1, 1, 1).clamp_min(1e-3)
        self.channels_last = channels_last

    @classmethod
    def fit(cls, x: torch.Tensor, channels_last: bool = True) -> Normalizer:
        """Per-channel mean/std of a uint8 (N, C, H, W) tensor, in chunks (bounded memory)."""
        total = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
        total_sq = torch.zeros_like(total)
        count = 0
        for start in range(0, x.shape[0], 4096):
            chunk = x[start : start + 4096].to(torch.float64) / 255.0
            total += chunk.sum(dim=(0, 2, 3))
            total_sq += (chunk * chunk).sum(dim=(0, 2, 3))
            count += chunk.numel() // chunk.shape[1]
        mean = total / max(count, 1)
        std = (total_sq / max(count, 1) - mean * mean).clamp_min(0).sqrt()
        return cls(mean.float(), std.float(), channels_last)

    @classmethod
    def for_weights(cls, data_config: dict | None, x: torch.Tensor) -> Normalizer:
        """Pretrained weights' own mean/std (they were trained to see those), else the
        statistics of the train split ``x``."""
        if not data_config:
            return cls.fit(x)
        mean = torch.tensor(data_config["mean"], dtype=torch.float32, device=x.device)
        return cls(mean, torch.tensor(data_config["std"], dtype=torch.float32, device=x.device))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) uint8 -> float
        out = (x.float().div_(255.0) - self.mean) / self.std
        if self.channels_last and out.shape[1] > 1:
            out = out.contiguous(memory_format=torch.channels_last)
        return out

    def state(self) -> dict[str, list[float]]:
        return {"mean": self.mean.flatten().tolist(), "std": self.std.flatten().tolist()}


class AlternatingFlips:
    """airbench's alternating flips: each image is flipped in every other epoch.

    In the first epoch a seeded random half of the train split is flipped; in each later epoch
    every image is flipped exactly when it was not the epoch before, so every image is seen
    both ways in any two consecutive epochs (random flips show a quarter of them one way only).
    The stage's batches call :meth:`next_epoch` as each epoch starts.
    """

    def __init__(self, n: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.first = torch.rand(n, generator=gen) < 0.5  # (N,) flipped in the first epoch
        self.epoch = -1  # the epoch being trained, from 0; -1 before the first (as 0)

    def next_epoch(self) -> None:
        self.epoch += 1

    def mask(self, idx: torch.Tensor) -> torch.Tensor:  # (B,) indices -> (B,) bool
        """Which of the images ``idx`` of the train split are flipped in this epoch."""
        return self.first[idx.cpu()] ^ (max(self.epoch, 0) % 2 == 1)


def augment(
    x: torch.Tensor,
    crop_pad: int,
    flip: bool,
    generator: torch.Generator,
    rrc_scale: float = 0.0,
    flip_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Random crops (reflect-padded by ``crop_pad``) and horizontal flips of a float batch,
    after random-resized crops when ``rrc_scale`` > 0 (see :func:`random_resized_crop`).
    With ``flip``, ``flip_mask`` (B,) bool says which images to flip (alternating flips);
    None: each with probability 0.5."""
    if rrc_scale > 0:
        x = random_resized_crop(x, rrc_scale, generator)
    if flip:
        if flip_mask is None:
            flip_mask = torch.rand(x.shape[0], generator=generator, device="cpu") < 0.5
        mask = flip_mask.to(x.device).view(-1, 1, 1, 1)
        x = torch.where(mask, x.flip(3), x)
    if crop_pad > 0:
        b, c, h, w = x.shape
        pad = min(crop_pad, h - 1, w - 1)
        padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
        rows = (dy.view(b, 1) + torch.arange(h, device=x.device)).view(b, 1, h, 1)
        cols = (dx.view(b, 1) + torch.arange(w, device=x.device)).view(b, 1, 1, w)
        batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
        chan = torch.arange(c, device=x.device).view(1, c, 1, 1)
        x = padded[batch, chan, rows, cols]
        if x.shape[1] > 1:
            x = x.contiguous(memory_format=torch.channels_last)
    return x


def random_resized_crop(
    x: torch.Tensor,
    min_scale: float,
    generator: torch.Generator,
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """Inception-style random-resized crops of a float batch (B, C, H, W), one per image.

    Each image keeps a random box of ``min_scale`` to all of its area, with an aspect ratio
    in ``ratio`` (log-uniform), anywhere inside it, resized back to (H, W) bilinearly. The
    whole batch is one ``affine_grid`` + ``grid_sample`` on the device.
    """
    b = x.shape[0]
    area = torch.empty(b).uniform_(min_scale, 1.0, generator=generator)
    log_ratio = torch.empty(b).uniform_(
        float(torch.tensor(ratio[0]).log()),
        float(torch.tensor(ratio[1]).log()),
        generator=generator,
    )
    aspect = log_ratio.exp()
    w = (area * aspect).sqrt().clamp(max=1.0)  # box width as a fraction of the image
    h = (area / aspect).sqrt().clamp(max=1.0)
    cx = (torch.rand(b, generator=generator) * 2 - 1) * (1 - w)  # centre, in [-1, 1] units
    cy = (torch.rand(b, generator=generator) * 2 - 1) * (1 - h)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = w, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if out.shape[1] > 1:
        out = out.contiguous(memory_format=torch.channels_last)
    return out


def shuffled_batches(
    n: int, batch_size: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """One epoch of random index batches; the last partial batch is dropped when n > batch."""
    order = torch.randperm(n, generator=generator)
    stop = n - (n % batch_size) if n > batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


def balanced_batches(
    labels: torch.Tensor, batch_size: int, generator: torch.Generator, num_batches: int
) -> Iterator[torch.Tensor]:
    """Class-balanced batches of P classes x K images, so every batch holds positives.

    P = min(number of classes, batch_size // 2) and K = batch_size // P (at least 2). Classes
    with fewer than K images are sampled with replacement.
    """
    labels = labels.cpu()
    classes = torch.unique(labels)
    by_class = [torch.nonzero(labels == c).flatten() for c in classes]
    p = max(1, min(len(classes), batch_size // 2))
    k = max(2, batch_size // p)
    for _ in range(num_batches):
        chosen = torch.randperm(len(classes), generator=generator)[:p]
        parts = []
        for ci in chosen.tolist():
            pool = by_class[ci]
            if len(pool) >= k:
                pick = pool[torch.randperm(len(pool), generator=generator)[:k]]
            else:
                pick = pool[torch.randint(0, len(pool), (k,), generator=generator)]
            parts.append(pick)
        yield torch.cat(parts)
