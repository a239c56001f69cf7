"""Decoding writes straight into the cache file: the arrays a fresh load returns are that
file, memory stays at a chunk, worker processes write their own rows, and the load still
works in this process when worker processes are unavailable."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from toolkit.data import _images, load_competition

if TYPE_CHECKING:
    from conftest import Build


def _photos(build: Build) -> Path:
    """A kaggle folder of 20 px squares where four train images are non-square JPEGs."""
    root = build.kaggle(per_class=6, n_test=4, size=20)
    rng = np.random.default_rng(1)
    for i, (w, h) in enumerate([(30, 20), (20, 41), (64, 48), (25, 26)], start=1):
        (root / "train" / f"{i}.png").unlink()
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        build.write_image(root / "train" / f"{i}.jpg", pixels, quality=90)
    return root


def test_fresh_load_is_the_memory_mapped_cache_file(
    build: Build, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: dict[str, int] = {}
    real = np.lib.format.open_memmap

    def recording(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        array = real(path, *args, **kwargs)
        opened[Path(path).name] = os.stat(path).st_ino
        return array

    monkeypatch.setattr(np.lib.format, "open_memmap", recording)
    comp = load_competition(_photos(build), image_size=12)
    entry = cache_dir / "competitions" / comp.fingerprint
    assert isinstance(comp.x_train, np.memmap) and isinstance(comp.x_test, np.memmap)
    opened = {k: v for k, v in opened.items() if k.startswith("x_")}  # (labels: checksum)
    assert opened == {  # the decoder's files are the cache entry's, moved into place
        "x_train.npy": (entry / "x_train.npy").stat().st_ino,
        "x_test.npy": (entry / "x_test.npy").stat().st_ino,
    }


def test_decoding_peak_memory_is_a_chunk_not_the_set(
    build: Build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_images, "_MIN_CHUNK", 8)
    root = build.kaggle(per_class=60, n_test=20, size=40, answers=False)
    size = 128  # output: 140 x 3 x 128 x 128 = 6.9 MB of numpy arrays
    total = 140 * 3 * size * size
    load_competition(root, image_size=8, cache_dir=tmp_path / "warm-up")  # imports, caches

    def peak(cache: Path) -> int:
        tracemalloc.start()  # numpy reports its allocations to tracemalloc
        try:
            load_competition(root, image_size=size, workers=1, cache_dir=cache)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak(tmp_path / "cache-a") < total / 4
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    assert peak(blocker) > total  # the control: no cache, so the arrays are in memory


def test_parallel_workers_write_the_same_file(
    build: Build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _photos(build)
    serial = load_competition(root, image_size=16, workers=1, cache_dir=tmp_path / "c1")
    monkeypatch.setattr(_images, "PARALLEL_MIN_IMAGES", 0)
    monkeypatch.setattr(_images, "_MIN_CHUNK", 2)
    parallel = load_competition(root, image_size=16, workers=2, cache_dir=tmp_path / "c2")
    assert isinstance(parallel.x_train, np.memmap)
    assert np.array_equal(serial.x_train, parallel.x_train)
    assert np.array_equal(serial.x_test, parallel.x_test)
    assert parallel.image_policy == serial.image_policy


def test_no_worker_processes_decodes_here(
    build: Build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _photos(build)
    serial = load_competition(root, image_size=16, workers=1, cache_dir=tmp_path / "c1")

    def unavailable(self: object) -> None:
        raise OSError("no /dev/shm")

    monkeypatch.setattr(_images._Pool, "_start", unavailable)
    monkeypatch.setattr(_images, "PARALLEL_MIN_IMAGES", 0)
    monkeypatch.setattr(_images, "_MIN_CHUNK", 2)
    fallback = load_competition(root, image_size=16, workers=2, cache_dir=tmp_path / "c2")
    assert np.array_equal(serial.x_train, fallback.x_train)
    assert np.array_equal(serial.x_test, fallback.x_test)
