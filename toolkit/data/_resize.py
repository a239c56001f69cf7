"""The image-size policy: which square side a competition's images get, and how they get it.

A policy is chosen once per competition load from a :class:`SizeRequest` (``data.image_size``,
``data.resize``) and the sizes of every image, train and test, then stored with the cache entry:

- ``image_size=0`` (automatic): the native side when every image already has one square size
  (CIFAR stays 32 x 32, digits 8 x 8, bit for bit: nothing is resampled); otherwise the median
  shorter side, between :data:`AUTO_SIZE_MIN` and :data:`AUTO_SIZE_CAP`.
- ``resize``: ``crop`` (shorter side to N, centre crop), ``pad`` (longer side to N, black bars:
  the whole image is kept) or ``stretch`` (both sides to N, aspect ratio lost).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from toolkit.data._competition import Parsed
from toolkit.errors import ToolkitError

RESIZE_MODES: tuple[str, ...] = ("crop", "pad", "stretch")
# Automatic sizes stop here because training runs on 2 CPU cores must stay practical: a 64 px
# image costs 4x a 32 px one per epoch, and a 128 px one 16x. Ask for more with data.image_size.
AUTO_SIZE_CAP = 64
AUTO_SIZE_MIN = 8  # smaller automatic sizes leave a CNN's pooling layers nothing to pool
MAX_IMAGE_SIZE = 1024  # an explicit image_size above this is almost surely a typo
# Bicubic with Pillow's area-aware support antialiases when shrinking and stays sharp when
# enlarging; a reducing gap of 3 box-shrinks huge non-JPEG images first (JPEGs use draft mode),
# which is much faster and visually the same at thumbnail sizes.
RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 3.0


@dataclass(frozen=True)
class SizeRequest:
    """What the user asked for; with the files' sizes it decides the policy."""

    size: int = 0  # data.image_size: square side in pixels; 0 = automatic
    resize: str = "crop"  # data.resize: one of RESIZE_MODES

    def as_dict(self) -> dict[str, Any]:
        """JSON form, part of the cache key."""
        return {"image_size": self.size, "resize": self.resize}


def size_request(image_size: int, resize: str) -> SizeRequest:
    """Check the two settings; raise :class:`ToolkitError` naming the setting otherwise."""
    if isinstance(image_size, bool) or not isinstance(image_size, int | np.integer):
        raise ToolkitError(
            f"data.image_size must be a whole number of pixels, got {image_size!r}; use 0 "
            f"(automatic) or a side from 1 to {MAX_IMAGE_SIZE}."
        )
    if not 0 <= image_size <= MAX_IMAGE_SIZE:
        raise ToolkitError(
            f"data.image_size must be 0 (automatic) or a side from 1 to {MAX_IMAGE_SIZE} "
            f"pixels, got {image_size}; pick a size in that range."
        )
    if resize not in RESIZE_MODES:
        raise ToolkitError(
            f"data.resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}; pick one "
            "of them."
        )
    return SizeRequest(int(image_size), resize)


def choose_policy(request: SizeRequest, sizes: np.ndarray) -> dict[str, Any]:
    """The policy for images of ``sizes`` (K, 2) (width, height), as stored with the cache.

    Keys: ``size`` (output side), ``resize``, ``native`` (True when no image is resampled),
    ``requested`` (the image_size asked for, 0 = automatic) and ``source_sizes``: the smallest
    side of any image (``min_side``), the median shorter side (``median_side``), the largest
    side (``max_side``) and the count of non-square images (``non_square``).
    """
    sizes = np.asarray(sizes, dtype=np.int64).reshape(-1, 2)  # (K, 2)
    short = sizes.min(axis=1)  # (K,)
    square = sizes[:, 0] == sizes[:, 1]  # (K,)
    median = int(np.median(short))
    one_square = bool(square.all() and (sizes == sizes[0]).all())
    native_side = int(sizes[0, 0]) if one_square else 0
    size = request.size or native_side or min(AUTO_SIZE_CAP, max(AUTO_SIZE_MIN, median))
    return {
        "size": int(size),
        "resize": request.resize,
        "native": bool(one_square and size == native_side),
        "requested": request.size,
        "source_sizes": {
            "min_side": int(short.min()),
            "median_side": median,
            "max_side": int(sizes.max()),
            "non_square": int((~square).sum()),
        },
    }


def draft_size(width: int, height: int, size: int, mode: str) -> tuple[int, int]:
    """The smallest (width, height) a JPEG may be decoded at (draft mode: 1/2, 1/4, 1/8
    scale) and still give a ``size`` x ``size`` result in ``mode`` without enlarging."""
    if mode == "stretch":
        return size, size
    scale = size / (min(width, height) if mode == "crop" else max(width, height))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def resize_image(im: Image.Image, size: int, mode: str) -> Image.Image:
    """``im`` (mode L or RGB) as ``size`` x ``size`` pixels by ``mode`` (see RESIZE_MODES)."""
    width, height = im.size
    if (width, height) == (size, size):
        return im
    if mode == "stretch":
        return im.resize((size, size), RESAMPLE, reducing_gap=REDUCING_GAP)
    if mode == "crop":
        # Same as "shorter side to size, then centre crop", in one resampling step.
        side = min(width, height)
        left, top = (width - side) / 2, (height - side) / 2
        box = (left, top, left + side, top + side)
        return im.resize((size, size), RESAMPLE, box=box, reducing_gap=REDUCING_GAP)
    scale = size / max(width, height)
    inner_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    inner = im.resize(inner_size, RESAMPLE, reducing_gap=REDUCING_GAP)
    canvas = Image.new(im.mode, (size, size), 0)  # black bars
    canvas.paste(inner, ((size - inner_size[0]) // 2, (size - inner_size[1]) // 2))
    return canvas


def fit_arrays(parsed: Parsed, request: SizeRequest) -> Parsed:
    """Square arrays (cifar-python, pixel-csv, npz) at the requested size, with their policy.

    Kept unchanged for an automatic request or the arrays' own size; otherwise every image is
    resized (crop, pad and stretch all agree on a square).
    """
    side = int(parsed.x_train.shape[2])
    policy = choose_policy(request, np.full((1, 2), side))
    if policy["native"]:
        return dataclasses.replace(parsed, image_policy=policy)
    size = policy["size"]
    return dataclasses.replace(
        parsed,
        x_train=resize_array(parsed.x_train, size),
        x_test=resize_array(parsed.x_test, size),
        image_policy=policy,
    )


def resize_array(x: np.ndarray, size: int) -> np.ndarray:
    """(N, C, S, S) uint8 images as (N, C, size, size), each resampled with :data:`RESAMPLE`."""
    out = np.empty((len(x), x.shape[1], size, size), dtype=np.uint8)  # (N, C, size, size)
    for i in range(len(x)):
        pixels = x[i, 0] if x.shape[1] == 1 else np.ascontiguousarray(np.moveaxis(x[i], 0, 2))
        resized = np.asarray(Image.fromarray(pixels).resize((size, size), RESAMPLE))
        out[i] = resized[None] if resized.ndim == 2 else np.moveaxis(resized, 2, 0)
    return out
