"""The loaded competition: decoded arrays, labels and the shape of the submission file.

Format readers (``_kaggle``, ``_folder``, ``_cifar``, ``_pixel_csv``, ``_npz``) each return a
:class:`Parsed`; :func:`toolkit.data.load_competition` checks it, caches it and wraps it in a
:class:`Competition` together with the folder's name, format and fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ToolkitError

Label = str | int

# The five layouts, in the order detection tries them; the strings users see and type.
FORMATS: tuple[str, ...] = ("kaggle-images", "image-folder", "cifar-python", "pixel-csv", "npz")


@dataclass(frozen=True, eq=False)
class Parsed:
    """What a format reader produces, before caching; arrays may be plain or memory-mapped."""

    x_train: np.ndarray  # (N, C, H, W) uint8
    y_train: np.ndarray  # (N,) int64 indices into classes
    classes: tuple[Label, ...]  # sorted original label values
    x_test: np.ndarray  # (M, C, H, W) uint8
    test_ids: tuple[Label, ...]  # (M,) in submission order
    id_column: str = "id"  # submission's id column, when the layout names none
    label_column: str = "label"  # submission's label column, when the layout names none
    y_test: np.ndarray | None = None  # (M,) int64 answer key aligned with test_ids
    image_policy: dict[str, Any] | None = None  # set by the image decoder (or fit_arrays)
    train_ids: tuple[Label, ...] = ()  # (N,) aligned with x_train; () when the layout names none


@dataclass(frozen=True, eq=False)
class Competition:
    """A competition folder loaded into memory (or memory-mapped from the cache).

    ``eq=False``: two competitions compare by identity, since comparing image arrays
    element-wise is neither cheap nor what ``==`` should mean here.
    """

    name: str  # folder name (file stem for a .npz path)
    root: Path  # the path the user named, made absolute
    format: str  # one of FORMATS
    x_train: np.ndarray  # (N, C, H, W) uint8, read-only, possibly memory-mapped
    y_train: np.ndarray  # (N,) int64 indices into classes
    classes: tuple[Label, ...]  # original label values, sorted, in their original type
    x_test: np.ndarray  # (M, C, H, W) uint8, read-only, possibly memory-mapped
    test_ids: tuple[Label, ...]  # in sample_submission order when there is one
    id_column: str  # submission's id column name
    label_column: str  # submission's label column name
    y_test: np.ndarray | None  # (M,) int64 answer key aligned with test_ids, or None
    fingerprint: str  # hex digest of the content fingerprint (format + file list/sizes/mtimes)
    # How the images got their square size: {"size", "resize", "native", "requested",
    # "source_sizes": {"min_side", "median_side", "max_side", "non_square"}} (see _resize.py);
    # empty only for a Competition built by hand.
    image_policy: dict[str, Any] = field(default_factory=dict)
    # The training images' ids, aligned with x_train/y_train rows (train.csv's id text, or the
    # path under train/ of a class-folder image); () when unknown: a layout without ids, or a
    # Competition built by hand. k-fold's oof.csv names its rows with them.
    train_ids: tuple[Label, ...] = ()

    @property
    def num_classes(self) -> int:
        """Number of classes a model must predict."""
        return len(self.classes)

    @property
    def channels(self) -> int:
        """Image channels: 1 (grayscale) or 3 (RGB)."""
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> int:
        """Side of the (square) image arrays in pixels (after the image-size policy)."""
        return int(self.x_train.shape[2])

    @property
    def has_answers(self) -> bool:
        """True when the test set comes with an answer key (local scoring possible)."""
        return self.y_test is not None

    def __repr__(self) -> str:
        return (
            f"Competition(name={self.name!r}, format={self.format!r}, "
            f"train={tuple(self.x_train.shape)}, test={tuple(self.x_test.shape)}, "
            f"classes={self.num_classes}, answers={self.has_answers})"
        )


def check_parsed(parsed: Parsed, where: Path) -> None:
    """Raise :class:`ToolkitError` if a reader's output breaks the contract users rely on."""
    x, y, xt = parsed.x_train, parsed.y_train, parsed.x_test
    if x.ndim != 4 or len(x) == 0:
        raise ToolkitError(f"the train set in {where} is empty; add labelled training images.")
    if x.dtype != np.uint8 or xt.dtype != np.uint8 or xt.ndim != 4:
        raise ToolkitError(f"images in {where} did not decode to uint8 arrays; re-save them.")
    if x.shape[1] not in (1, 3) or x.shape[2] != x.shape[3]:
        c, h, w = x.shape[1:]
        raise ToolkitError(
            f"images in {where} are {w}x{h} with {c} channels; expected square grayscale or RGB "
            "images: crop/pad them to squares."
        )
    if len(xt) == 0:
        raise ToolkitError(f"the test set in {where} is empty; add the test images.")
    if xt.shape[1:] != x.shape[1:]:
        raise ToolkitError(
            f"test images in {where} are {_shape(xt)} but train images are {_shape(x)}; "
            "make both sets the same size and channel count."
        )
    if y.shape != (len(x),) or len(parsed.test_ids) != len(xt):
        raise ToolkitError(f"labels or ids in {where} do not line up with the images; check them.")
    if parsed.train_ids and len(parsed.train_ids) != len(x):
        raise ToolkitError(
            f"{len(parsed.train_ids)} training ids in {where} for {len(x)} training images; "
            "give every training image one id."
        )
    used = np.unique(y)
    if len(used) < 2:
        only = parsed.classes[int(used[0])] if len(used) else "?"
        raise ToolkitError(
            f"the train set in {where} has a single class ({only!r}); a classifier needs at "
            "least 2 classes: add images of the other classes."
        )
    if used[0] < 0 or used[-1] >= len(parsed.classes):
        raise ToolkitError(f"labels in {where} point outside the class list; check them.")
    if parsed.y_test is not None and parsed.y_test.shape != (len(xt),):
        raise ToolkitError(f"the answer key in {where} does not cover every test image.")


def _shape(x: np.ndarray) -> str:
    return f"{x.shape[3]}x{x.shape[2]}x{x.shape[1]} (width x height x channels)"
