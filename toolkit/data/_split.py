"""Stratified, seeded train/validation split of the training labels (the test set is never
touched: only ``y_train`` goes in)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.data._tables import preview
from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.data._competition import Competition


def split_validation(
    y: np.ndarray,
    val_fraction: float = 0.1,
    seed: int = 0,
    *,
    names: Sequence[object] = (),
    folds: int = 0,
    fold: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices), each sorted, int64.

    With ``folds >= 2`` the validation indices are fold ``fold`` of :func:`split_folds` (and
    ``val_fraction`` is not used); otherwise:

    Every class keeps its share of images in validation: about ``val_fraction`` of its images,
    at least one for a class with two or more images and never all of them. The total is
    ``round(N * val_fraction)`` where those bounds allow. ``val_fraction`` must be in [0, 1);
    0 gives an empty validation set. A class with a single image cannot be split and raises
    :class:`ToolkitError` (unless ``val_fraction`` is 0), naming it by ``names[label]`` when
    ``y`` holds indices into the class names ``names``.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ToolkitError(f"labels must be one-dimensional, got shape {y.shape}.")
    if folds >= 2:
        assignment = split_folds(y, folds, seed, names=names)
        if not 0 <= fold < folds:
            raise ToolkitError(f"fold must be in 0..{folds - 1}, got {fold}.")
        everything = np.arange(len(y), dtype=np.int64)
        return everything[assignment != fold], everything[assignment == fold]
    if not 0.0 <= val_fraction < 1.0:
        raise ToolkitError(f"val_fraction must be in [0, 1), got {val_fraction}; use e.g. 0.1.")
    everything = np.arange(len(y), dtype=np.int64)
    if val_fraction == 0 or len(y) == 0:
        return everything, np.empty(0, dtype=np.int64)
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    singles = classes[counts == 1].tolist()
    if singles:
        if names:
            singles = [names[int(c)] for c in singles]
        raise ToolkitError(
            f"classes {preview(singles)} have a single image, which cannot be in both "
            "the train and the validation split; add images or use val_fraction=0."
        )
    n_val = _allocate(counts, val_fraction)  # (K,)
    rng = np.random.default_rng(seed)
    by_class = np.argsort(inverse, kind="stable")  # (N,) indices grouped by class
    val_parts = []
    start = 0
    for count, take in zip(counts.tolist(), n_val.tolist(), strict=True):
        members = by_class[start : start + count]
        val_parts.append(rng.permutation(members)[:take])
        start += count
    val = np.sort(np.concatenate(val_parts)).astype(np.int64)
    keep = np.ones(len(y), dtype=bool)
    keep[val] = False
    return everything[keep], val


def split_folds(
    y: np.ndarray, folds: int, seed: int = 0, *, names: Sequence[object] = ()
) -> np.ndarray:
    """The fold (0..folds-1) of each image: scikit-learn's ``StratifiedKFold`` with shuffling,
    seeded, so every class is spread evenly over the folds and each image is in exactly one.

    Every class needs at least ``folds`` images (else some fold would not see it at all);
    a class with fewer raises :class:`ToolkitError` naming it (by ``names[label]``).
    """
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    if folds < 2:
        raise ToolkitError(f"folds must be at least 2, got {folds}.")
    classes, counts = np.unique(y, return_counts=True)
    small = classes[counts < folds].tolist()
    if small:
        if names:
            small = [names[int(c)] for c in small]
        raise ToolkitError(
            f"classes {preview(small)} have fewer than {folds} images, so some of the "
            f"{folds} folds would not validate on them; use fewer folds (e.g. --folds "
            f"{max(2, int(counts.min()))}) or a held-out split (val_fraction)."
        )
    assignment = np.empty(len(y), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (_, held_out) in enumerate(splitter.split(np.zeros(len(y)), y)):
        assignment[held_out] = k
    return assignment


def _allocate(counts: np.ndarray, fraction: float) -> np.ndarray:
    """Validation images per class: 1 <= n < count, then largest remainders up to the total."""
    exact = counts * fraction
    n_val = np.clip(np.floor(exact).astype(np.int64), 1, counts - 1)
    short = round(float(counts.sum()) * fraction) - int(n_val.sum())
    remainder = exact - n_val
    for k in np.argsort(-remainder, kind="stable").tolist():
        if short <= 0 or remainder[k] <= 0:
            break
        if n_val[k] < counts[k] - 1:
            n_val[k] += 1
            short -= 1
    return n_val


def class_subset(
    comp: Competition, names: tuple[str, ...]
) -> tuple[np.ndarray | None, np.ndarray, list[Any]]:
    """(indices kept or None for all, labels re-numbered 0..K-1, class names) of the chosen
    classes (all when ``names`` is empty). Reads labels only: no image is touched."""
    classes = list(comp.classes)
    if not names:
        return None, np.asarray(comp.y_train), classes
    lookup = {str(c): i for i, c in enumerate(classes)}
    missing = [n for n in names if n not in lookup]
    if missing or len(set(names)) != len(names) or len(names) < 2:
        raise ToolkitError(
            f"classes={','.join(names)} must name at least two distinct classes of the "
            f"competition; unknown: {missing or 'none'}; available: {', '.join(lookup)}."
        )
    chosen = [lookup[n] for n in names]
    y = np.asarray(comp.y_train)
    keep = np.flatnonzero(np.isin(y, chosen))
    remap = np.full(len(classes), -1, dtype=np.int64)
    remap[chosen] = np.arange(len(chosen))
    return keep, remap[y[keep]], [classes[i] for i in chosen]


def select_classes(
    comp: Competition, names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """The train images and labels of the chosen classes (all when ``names`` is empty)."""
    keep, y, classes = class_subset(comp, names)
    return (comp.x_train if keep is None else comp.x_train[keep]), y, classes
