"""Cache entries carry a checksum a load verifies: an edited entry is rebuilt, never trusted."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from toolkit.data import _cache, load_competition

if TYPE_CHECKING:
    from conftest import Build


def _entry(cache: Path) -> Path:
    (entry,) = (p for p in (cache / "competitions").iterdir() if not p.name.startswith("."))
    return entry


def _edit_labels(entry: Path, name: str, value: int) -> None:
    labels = np.load(entry / f"{name}.npy")
    labels[0] = value
    np.save(entry / f"{name}.npy", labels)


def _edit_meta(entry: Path, **fields: object) -> None:
    meta = json.loads((entry / "meta.json").read_text())
    (entry / "meta.json").write_text(json.dumps(meta | fields))


@pytest.mark.parametrize(
    "damage",
    [
        "y_train out of range",
        "y_train in range",
        "y_test",
        "classes",
        "test ids",
        "train ids",
        "no checksum",
    ],
)
def test_an_edited_entry_is_rebuilt_with_one_warning(
    build: Build,
    cache_dir: Path,
    decodes: list[int],
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    root = build.kaggle()
    first = load_competition(root)
    expected = (
        np.array(first.y_train),
        first.y_test.copy(),
        first.classes,
        first.test_ids,
        first.train_ids,
    )
    entry = _entry(cache_dir)
    meta = json.loads((entry / "meta.json").read_text())
    if damage == "y_train out of range":
        _edit_labels(entry, "y_train", 99)
    elif damage == "y_train in range":  # a valid-looking label, still not the folder's
        _edit_labels(entry, "y_train", 1 - int(first.y_train[0]))
    elif damage == "y_test":
        _edit_labels(entry, "y_test", 1 - int(first.y_test[0]))
    elif damage == "classes":
        _edit_meta(entry, classes=meta["classes"][::-1])
    elif damage == "test ids":
        _edit_meta(entry, test_ids=meta["test_ids"][::-1])
    elif damage == "train ids":
        _edit_meta(entry, train_ids=meta["train_ids"][::-1])
    else:
        _edit_meta(entry, checksum=None)
    with caplog.at_level(logging.WARNING, logger="toolkit.data"):
        again = load_competition(root)
    assert len(decodes) == 2  # decoded again
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "checksum does not match" in warnings[0]
    assert "rebuilding" in warnings[0] and "\n" not in warnings[0]
    assert np.array_equal(again.y_train, expected[0]) and np.array_equal(again.y_test, expected[1])
    assert (again.classes, again.test_ids, again.train_ids) == expected[2:]
    load_competition(root)
    assert len(decodes) == 2  # the rebuilt entry passes its check


def test_an_intact_entry_passes_its_check(build: Build, cache_dir: Path) -> None:
    root = build.kaggle()
    load_competition(root)
    entry = _entry(cache_dir)
    meta = json.loads((entry / "meta.json").read_text())
    arrays = {
        name: np.load(entry / f"{name}.npy", mmap_mode="r")
        for name in ("x_train", "y_train", "x_test", "y_test")
    }
    assert meta["checksum"] == _cache.checksum(entry, meta, arrays)
    assert _cache.read_entry(cache_dir / "competitions", entry.name) is not None


def test_the_checksum_covers_pixel_array_shapes_not_their_values(build: Build) -> None:
    """The pixels are never read to check an entry (that would read every page of a large
    memory-mapped array on each load); their dtype, shape and file size are covered."""
    folder = build.tmp / "entry"
    folder.mkdir()
    meta: dict[str, object] = {"classes": ["a", "b"]}
    np.save(folder / "x_train.npy", np.zeros((2, 4, 4), np.uint8))
    np.save(folder / "y_train.npy", np.array([0, 1]))

    def digest() -> str:
        arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in ("x_train", "y_train")}
        return _cache.checksum(folder, meta, arrays)

    before = digest()
    np.save(folder / "x_train.npy", np.ones((2, 4, 4), np.uint8))
    assert digest() == before
    np.save(folder / "x_train.npy", np.ones((2, 4, 2), np.uint8))
    assert digest() != before
