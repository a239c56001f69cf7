"""Images and labels that arrive as numbers (pixel CSV, npz, CIFAR batches) rather than files."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from toolkit.data._competition import Label
from toolkit.data._tables import preview
from toolkit.errors import ToolkitError


def square_layout(count: int, *, what: str) -> tuple[int, int]:
    """(side, channels) for ``count`` values per image: side² (grayscale) or 3·side² (RGB)."""
    side = math.isqrt(count)
    if count > 0 and side * side == count:
        return side, 1
    rgb = math.isqrt(count // 3)
    if count > 0 and count % 3 == 0 and 3 * rgb * rgb == count:
        return rgb, 3
    raise ToolkitError(
        f"{what}: pixel count {count} is not a square (grayscale side²) nor three squares "
        "(RGB 3·side²); images must be square: check the pixel columns."
    )


def to_uint8(values: np.ndarray, *, what: str) -> np.ndarray:
    """Pixel values as uint8: floats in [0, 1] are scaled by 255, 0..255 values are kept,
    16-bit values (up to 65535, unsigned 16-bit dtype) are scaled by 255/65535."""
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.bool_:
        return values.astype(np.uint8) * 255
    if values.dtype.kind not in "iuf":
        raise ToolkitError(f"{what} holds {values.dtype} values, not pixel numbers; fix the data.")
    if values.size == 0:
        return values.astype(np.uint8)
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise ToolkitError(f"{what} has missing (NaN) or infinite pixel values; fix the data.")
    low, high = float(values.min()), float(values.max())
    if low < 0:
        raise ToolkitError(f"{what} has negative pixel values ({low:g}); use 0..255 or 0..1.")
    if values.dtype.kind == "f" and high <= 1.0:
        return np.rint(values * 255.0).astype(np.uint8)
    if high <= 255:
        return np.rint(values).astype(np.uint8)
    if values.dtype == np.uint16:
        return ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    raise ToolkitError(f"{what} has pixel values up to {high:g}; use 0..255 or 0..1.")


def labels_from_array(
    values: np.ndarray, names: Sequence[Label] | None, *, what: str
) -> tuple[np.ndarray, tuple[Label, ...]]:
    """(y, classes) from a label array; y holds (N,) int64 indices into the sorted classes.

    Integer labels with ``names`` are indices into ``names``; integer labels without names are
    the class values themselves; string labels are the class names.
    """
    plain = plain_values(values, what=what)
    if names is not None and len(set(names)) != len(names):
        raise ToolkitError(f"{what}: the class names repeat a name; make them unique.")
    if names is None:
        found: tuple[Label, ...] = tuple(sorted(set(plain)))  # type: ignore[type-var]
        return encode_values(plain, found, what=what), found
    if plain and isinstance(plain[0], int):
        bad = [v for v in plain if not 0 <= v < len(names)]  # type: ignore[operator]
        if bad:
            raise ToolkitError(
                f"{what} has label {bad[0]} but there are {len(names)} class names; "
                "fix the labels or the class names."
            )
        plain = [names[v] for v in plain]  # type: ignore[index]
    classes: tuple[Label, ...] = tuple(sorted(set(names)))
    return encode_values(plain, classes, what=what), classes


def encode_values(values: Sequence[Label], classes: Sequence[Label], *, what: str) -> np.ndarray:
    """Positions of ``values`` in ``classes``: an (N,) int64 array."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in values if v not in index})
    if unknown:
        raise ToolkitError(f"{what} has labels that are not classes ({preview(unknown)}).")
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def plain_values(values: np.ndarray, *, what: str) -> list[Label]:
    """A 1-D array of ints or strings as plain Python ints/strs (integral floats -> int)."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise ToolkitError(f"{what} must be one-dimensional, got shape {values.shape}.")
    kind = values.dtype.kind
    if kind in "iub":
        return [int(v) for v in values.tolist()]
    if kind == "f":
        if not np.isfinite(values).all() or not np.all(values == np.round(values)):
            raise ToolkitError(f"{what} holds non-integer or NaN numbers; use integer labels.")
        return [int(v) for v in values.tolist()]
    if kind == "U":
        out: list[Label] = [str(v) for v in values.tolist()]
    elif kind == "S":
        try:
            out = [v.decode("utf-8") for v in values.tolist()]
        except UnicodeDecodeError as err:
            raise ToolkitError(f"{what} holds bytes that are not UTF-8 text.") from err
    else:
        raise ToolkitError(f"{what} holds {values.dtype} values; use integers or strings.")
    if any(not v or v != v.strip() for v in out):  # type: ignore[union-attr]
        raise ToolkitError(f"{what} has empty values or values with surrounding spaces.")
    return out
