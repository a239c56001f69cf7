"""One image file: its header (size, grayscale or not), then its pixels at the planned size.

Whatever a contest ships is read: PNG, JPEG, BMP, GIF (first frame), WebP, TIFF, in Pillow
modes 1/L/LA/P/PA/RGB/RGBA/CMYK/YCbCr, 16- and 32-bit grayscale (scaled to 8 bits) and float.
Transparent pixels are composited onto :data:`BACKGROUND` (white: the usual page or product
photo background); EXIF orientation is applied. Grayscale images (modes 1/L/LA/I/F, or a
palette of grays) give one channel when every image of the set is gray; otherwise every image
is converted to RGB (a gray one replicated to three channels).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps

from toolkit.data._resize import draft_size, resize_image

BACKGROUND = 255  # transparent pixels become white
_ORIENTATION = 0x0112  # EXIF tag; values 2..8 ask for a flip and/or rotation
_GRAY_MODES = frozenset({"1", "L", "LA", "La"})
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})


class Plan(NamedTuple):
    """How every image of one load is decoded (sent to each worker)."""

    channels: int  # 1 when every image is gray, else 3
    size: int  # output side in pixels
    resize: str  # one of RESIZE_MODES
    resample: bool  # False: every image already is size x size (native), decode as stored


@contextmanager
def quiet_bombs() -> Iterator[None]:
    """Silence Pillow's multi-line DecompressionBombWarning (images between the limit and
    twice the limit); above twice the limit Pillow raises, and the caller reports that."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def read_header(path: str) -> tuple[int, int, bool]:
    """(width, height, gray) of the stored image, reading only its header (palette images
    are decoded to see which colours they use)."""
    with Image.open(path) as im:
        width, height = im.size
        if width < 1 or height < 1:
            raise ValueError("image has no pixels")
        return width, height, _is_gray(im)


def decode(path: str, plan: Plan) -> np.ndarray:
    """One image as uint8 (size, size, channels)."""
    with Image.open(path) as im:
        if plan.resample:  # JPEG: decode at 1/2, 1/4 or 1/8 scale when that is still enough
            im.draft(None, draft_size(im.width, im.height, plan.size, plan.resize))
        im.load()
        if im.width < 1 or im.height < 1:
            raise ValueError("image has no pixels")
        out = _canonical(_upright(im), gray=plan.channels == 1)
    if plan.resample:
        out = resize_image(out, plan.size, plan.resize)
    pixels = np.asarray(out)
    if pixels.shape[:2] != (plan.size, plan.size):
        raise ValueError(
            f"it is {pixels.shape[1]}x{pixels.shape[0]} now but was {plan.size}x{plan.size} "
            "when the images were measured (did it change while loading?)"
        )
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def _is_gray(im: Image.Image) -> bool:
    mode = im.mode
    if mode in _GRAY_MODES or mode.startswith("I") or mode == "F":
        return True
    return mode == "P" and _gray_palette(im)


def _upright(im: Image.Image) -> Image.Image:
    """``im`` turned as its EXIF orientation tag says (a copy only when there is a tag)."""
    if im.getexif().get(_ORIENTATION, 1) in range(2, 9):
        turned = ImageOps.exif_transpose(im)
        if turned is not None:
            return turned
    return im


def _canonical(im: Image.Image, *, gray: bool) -> Image.Image:
    """``im`` in mode L (``gray``) or RGB: wide values scaled, alpha composited on white."""
    mode = im.mode
    target = "L" if gray else "RGB"
    if mode.startswith("I") or mode == "F":
        im = Image.fromarray(_wide_to_uint8(np.asarray(im), sixteen_bit=mode.startswith("I;16")))
    elif mode in _ALPHA_MODES or "transparency" in im.info:
        with_alpha = np.asarray(im.convert("LA" if gray else "RGBA"), dtype=np.uint32)
        colour, alpha = with_alpha[..., :-1], with_alpha[..., -1:]  # (H, W, C), (H, W, 1)
        mixed = ((colour * alpha + BACKGROUND * (255 - alpha) + 127) // 255).astype(np.uint8)
        im = Image.fromarray(mixed[..., 0] if gray else mixed)
    return im if im.mode == target else im.convert(target)


def _gray_palette(im: Image.Image) -> bool:
    """True when every palette colour the image uses is a gray (R == G == B)."""
    palette = im.getpalette()
    if not palette:
        return False
    colours = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)  # (P, 3)
    used = np.unique(np.asarray(im))
    used = used[used < len(colours)]
    rgb = colours[used]
    return bool(np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 1] == rgb[:, 2]))


def _wide_to_uint8(arr: np.ndarray, *, sixteen_bit: bool) -> np.ndarray:
    """Wide grayscale to uint8: 16-bit scaled by 255/65535, floats in [0, 1] by 255."""
    if arr.dtype.kind == "f":
        arr = np.nan_to_num(arr.astype(np.float64))
        if arr.size and arr.min() >= 0 and arr.max() <= 1:
            arr = arr * 255
        return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    wide = arr.astype(np.int64)
    if sixteen_bit or (wide.size and wide.max() > 255):
        return ((np.clip(wide, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
    return np.clip(wide, 0, 255).astype(np.uint8)
