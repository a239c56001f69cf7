"""Progressive resizing: a stage's early steps train on smaller images, so they cost less.

fastai's and FFCV's trick, for a batch already on the device: with ``progressive_resize = f``
the augmented batch is resized (bilinear, antialiased) to ``f`` of its side at the start of
the stage, growing linearly to the full side at ``progressive_until`` of the stage's progress;
from there on batches pass unchanged. Sides are rounded down to multiples of :data:`SIDE_STEP`
pixels, so a stage sees a few shapes rather than one per step (32-px images with ``f = 0.5``:
16, then 24, then 32 px). Under a budget the progress is wall-clock time, so the cheaper
steps are more steps: the stage sees more images in the same minutes. Evaluations, BatchNorm
refreshes and predictions always use the full size.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

SIDE_STEP = 8  # sides are multiples of this many pixels (and never below it)


class ProgressiveResize:
    """Resizes training batches while the stage's ``progress`` (set by the loop) is early."""

    def __init__(self, start: float, until: float) -> None:
        self.start = start  # fraction of the side at progress 0, in (0, 1)
        self.until = until  # progress at which batches are full size again, in (0, 1]
        # The stage's progress in [0, 1], set by the loop before each step; until then (the
        # autosize probe, lr-find's sweep) full size, what most of training sees.
        self.progress = 1.0

    def side(self, full: int) -> int:
        """The side a batch of side ``full`` trains at now."""
        grown = self.start + (1.0 - self.start) * min(self.progress / self.until, 1.0)
        side = int(full * grown) // SIDE_STEP * SIDE_STEP
        return min(full, max(side, SIDE_STEP))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) float -> (B, C, h, w)
        h, w = x.shape[-2:]
        size = (self.side(h), self.side(w))
        if size == (h, w):
            return x
        out = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        if out.shape[1] > 1:
            out = out.contiguous(memory_format=torch.channels_last)
        return out
