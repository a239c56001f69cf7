"""Test-time augmentation: which views of an image are averaged, and only views the run trained on.

A view is the image, optionally moved ``dy`` pixels down and ``dx`` right (edges repeated) and
optionally flipped left-right. Views are stacked along the batch and go through the encoder in
one forward pass; their features are averaged (as the run validated), then the head predicts.
At most three views are used, so TTA costs at most 3x a plain prediction:

- flips only: the image and its mirror (2 views);
- shifts only: the image and two diagonal shifts, up-left and down-right (3 views);
- both: the image, its mirror, and the mirror shifted down-right (3 views).

A run predicts with a view only if it trained with that transform (:func:`trained_tta`): a
mirrored digit is another digit, so a run trained with ``flip = false`` never sees mirrors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit.errors import ToolkitError

if TYPE_CHECKING:  # torch is imported where views are made: submissions read TTA without it
    import torch

View = tuple[int, int, bool]  # (dy, dx, flipped)


@dataclass(frozen=True)
class TTA:
    """Which test-time augmentations to average over."""

    flip: bool = True  # the left-right mirror (only for runs trained with flip = true)
    shift: int = 0  # diagonal shifts by this many pixels (runs trained with crops); 0 = none

    def views(self) -> list[View]:
        """Every view, the original first; at most three."""
        s = self.shift
        if s and self.flip:
            return [(0, 0, False), (0, 0, True), (s, s, True)]
        if s:
            return [(0, 0, False), (-s, -s, False), (s, s, False)]
        return [(0, 0, False), (0, 0, True)] if self.flip else [(0, 0, False)]

    @property
    def active(self) -> bool:
        """Whether there is more than the original view."""
        return len(self.views()) > 1

    def to_dict(self) -> dict[str, Any]:
        return {"flip": self.flip, "shift": self.shift, "views": len(self.views())}


def view_count(tta: TTA | None) -> int:
    """Forward passes per image of a prediction with ``tta`` (1: without TTA)."""
    return 1 if tta is None else len(tta.views())


def trained_tta(config: Mapping[str, Any], *, shift: int | None = None) -> TTA:
    """Every view a run with this config trained on: flips if ``flip``, shifts (``shift``
    pixels, default 1) if it trained with random crops (``crop_pad`` or ``rrc_scale``)."""
    crops = bool(config.get("crop_pad", 0)) or bool(config.get("rrc_scale", 0.0))
    pixels = 1 if shift is None else shift
    return TTA(flip=bool(config.get("flip", False)), shift=pixels if crops else 0)


def validation_tta(config: Mapping[str, Any]) -> TTA | None:
    """The TTA a run validates with (``tta = true``): flips, if it trained with them."""
    if not config.get("tta", False) or not config.get("flip", False):
        return None
    return TTA(flip=True, shift=0)


def check_trained(tta: TTA, config: Mapping[str, Any], run_id: str) -> None:
    """Refuse a view the run never trained on (it would hurt, not help)."""
    if tta.flip and not config.get("flip", False):
        raise ToolkitError(
            f"run {run_id} trained without flips (flip = false), so a mirrored view would "
            "hurt its predictions; drop --tta-flip (or pass --no-tta-flip)."
        )
    if tta.shift and not (config.get("crop_pad", 0) or config.get("rrc_scale", 0.0)):
        raise ToolkitError(
            f"run {run_id} trained without random crops (crop_pad = 0), so shifted views "
            "would hurt its predictions; pass --tta-shift 0."
        )


def stack_views(batch: torch.Tensor, tta: TTA | None) -> torch.Tensor:
    """Normalised images (B, C, H, W) -> every view stacked along the batch (V*B, C, H, W)."""
    import torch
    from torch.nn import functional as F

    if tta is None or not tta.active:
        return batch
    h, w = batch.shape[2], batch.shape[3]
    if tta.shift >= min(h, w):
        raise ToolkitError(f"a TTA shift of {tta.shift} px is as large as the image ({h}x{w}).")
    p = tta.shift
    padded = F.pad(batch, (p, p, p, p), mode="replicate") if p else batch
    views = []
    for dy, dx, flipped in tta.views():
        view = padded[:, :, p - dy : p - dy + h, p - dx : p - dx + w] if p else batch
        views.append(view.flip(3) if flipped else view)
    return torch.cat(views)


def mean_over_views(out: torch.Tensor, tta: TTA | None) -> torch.Tensor:
    """(V*B, D) outputs of :func:`stack_views` -> their mean over the views, (B, D)."""
    if tta is None or not tta.active:
        return out
    n = len(tta.views())
    return out.reshape(n, out.shape[0] // n, *out.shape[1:]).mean(0)
