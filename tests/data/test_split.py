"""split_validation: stratified, seeded, every class represented, bad input refused."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.data import split_validation
from toolkit.errors import ToolkitError


def _labels() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.permutation(np.repeat(np.arange(4), [50, 30, 7, 2]))  # (89,) imbalanced


def test_partition_and_types() -> None:
    y = _labels()
    train, val = split_validation(y, 0.2, seed=0)
    assert train.dtype == np.int64 and val.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)  # sorted, no repeats
    assert np.intersect1d(train, val).size == 0
    assert np.array_equal(np.union1d(train, val), np.arange(len(y)))


def test_stratified_and_every_class_in_both_splits() -> None:
    y = _labels()
    train, val = split_validation(y, 0.2, seed=0)
    val_counts = np.bincount(y[val], minlength=4)
    train_counts = np.bincount(y[train], minlength=4)
    assert val_counts.tolist()[:2] == [10, 6]  # 20% of 50 and of 30
    assert (val_counts >= 1).all() and (train_counts >= 1).all()
    assert val_counts[3] == 1  # a two-image class gives one to each side
    assert len(val) == round(len(y) * 0.2)


def test_small_fraction_still_gives_each_class_a_validation_image() -> None:
    y = np.repeat(np.arange(5), 3)
    _, val = split_validation(y, 0.01)
    assert np.bincount(y[val]).tolist() == [1, 1, 1, 1, 1]


def test_seeded() -> None:
    y = _labels()
    a = split_validation(y, 0.1, seed=3)
    b = split_validation(y, 0.1, seed=3)
    c = split_validation(y, 0.1, seed=4)
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0])
    assert not np.array_equal(a[1], c[1])


def test_string_labels_and_zero_fraction() -> None:
    y = np.array(["a", "b", "a", "b", "a", "b"])
    train, val = split_validation(y, 0.0)
    assert train.tolist() == list(range(6)) and val.size == 0
    train, val = split_validation(y, 0.5)
    assert sorted(y[val].tolist()) == ["a", "b", "b"] or sorted(y[val].tolist()) == ["a", "a", "b"]


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_fraction_out_of_range(fraction: float) -> None:
    with pytest.raises(ToolkitError, match=r"val_fraction must be in \[0, 1\)"):
        split_validation(np.array([0, 0, 1, 1]), fraction)


def test_single_image_class_is_refused() -> None:
    with pytest.raises(ToolkitError, match="single image"):
        split_validation(np.array([0, 0, 1, 1, 2]), 0.2)
    train, val = split_validation(np.array([0, 0, 1, 1, 2]), 0.0)
    assert len(train) == 5 and len(val) == 0
