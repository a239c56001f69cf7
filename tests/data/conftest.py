"""Tiny competitions of every layout, generated in tmp_path, and a cache dir per test."""

from __future__ import annotations

import csv
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.data import _images


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test caches under its own tmp folder (never the user's cache home)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("TOOLKIT_CACHE", str(path))
    return path


def write_image(path: Path, pixels: np.ndarray, **save: object) -> None:
    """Save (H, W) grayscale or (H, W, 3) RGB uint8 pixels with Pillow."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **save)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def pixels(rng: np.random.Generator, size: int, channels: int) -> np.ndarray:
    shape = (size, size) if channels == 1 else (size, size, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


class Build:
    """Writers of small competitions under ``tmp_path``; each returns the folder."""

    write_csv = staticmethod(write_csv)
    write_image = staticmethod(write_image)

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.rng = np.random.default_rng(0)

    def kaggle(
        self,
        name: str = "kaggle",
        *,
        classes: Sequence[object] = ("cat", "dog"),
        per_class: int = 3,
        n_test: int = 4,
        size: int = 8,
        channels: int = 3,
        ext: str = "png",
        answers: bool = True,
        columns: tuple[str, str] = ("id", "label"),
    ) -> Path:
        """train ids 1..N (labels cycle through classes), test ids N+1..N+M listed in
        reverse order in sample_submission.csv."""
        root = self.tmp / name
        labels = [classes[i % len(classes)] for i in range(per_class * len(classes))]
        train_ids = list(range(1, len(labels) + 1))
        test_ids = list(range(len(labels) + 1, len(labels) + n_test + 1))[::-1]
        for i in train_ids:
            write_image(root / "train" / f"{i}.{ext}", pixels(self.rng, size, channels))
        for i in test_ids:
            write_image(root / "test" / f"{i}.{ext}", pixels(self.rng, size, channels))
        write_csv(root / "train.csv", columns, zip(train_ids, labels, strict=True))
        write_csv(root / "sample_submission.csv", columns, [(i, classes[0]) for i in test_ids])
        if answers:
            truth = [classes[i % len(classes)] for i in test_ids]
            write_csv(root / "test_labels.csv", columns, zip(test_ids, truth, strict=True))
        return root

    def folder(
        self,
        name: str = "folder",
        *,
        classes: Sequence[str] = ("ants", "bees", "wasps"),
        per_class: int = 2,
        n_test: int = 3,
        size: int = 12,
        channels: int = 1,
    ) -> Path:
        root = self.tmp / name
        for label in classes:
            for i in range(per_class):
                path = root / "train" / label / f"{label}_{i}.png"
                write_image(path, pixels(self.rng, size, channels))
        for i in range(n_test):
            write_image(root / "test" / f"img{i}.png", pixels(self.rng, size, channels))
        return root

    def cifar(
        self,
        name: str = "cifar",
        *,
        hundred: bool = False,
        per_batch: int = 6,
        size: int = 8,
        names: Sequence[str] = ("airplane", "bird", "cat"),
        nested: bool = True,
    ) -> Path:
        """Official-format pickles; in a cifar-10-batches-py/ (or cifar-100-python/) child
        when ``nested``."""
        root = self.tmp / name
        folder = (
            root / ("cifar-100-python" if hundred else "cifar-10-batches-py") if nested else root
        )
        folder.mkdir(parents=True)
        key = b"fine_labels" if hundred else b"labels"

        def batch(n: int) -> dict[bytes, object]:
            data = self.rng.integers(0, 256, (n, 3 * size * size), dtype=np.uint8)
            return {b"data": data, key: [i % len(names) for i in range(n)], b"batch_label": b"x"}

        def dump(file: str, obj: object) -> None:
            with (folder / file).open("wb") as f:
                pickle.dump(obj, f, protocol=2)

        encoded = [n.encode() for n in names]
        if hundred:
            dump("train", batch(2 * per_batch))
            dump("test", batch(per_batch))
            dump("meta", {b"fine_label_names": encoded, b"coarse_label_names": [b"all"]})
        else:
            dump("data_batch_1", batch(per_batch))
            dump("data_batch_2", batch(per_batch))
            dump("test_batch", batch(per_batch))
            dump("batches.meta", {b"label_names": encoded, b"num_vis": 3 * size * size})
        return root

    def pixel_csv(
        self,
        name: str = "pixels",
        *,
        n_train: int = 6,
        n_test: int = 3,
        size: int = 5,
        channels: int = 1,
        sample: bool = True,
    ) -> Path:
        """Digit Recognizer style: label,pixel0..; test.csv pixels only; ImageId,Label 1..M."""
        root = self.tmp / name
        root.mkdir(parents=True)
        count = size * size * channels
        cols = [f"pixel{i}" for i in range(count)]
        train = self.rng.integers(0, 256, (n_train, count))
        test = self.rng.integers(0, 256, (n_test, count))
        labels = [i % 3 for i in range(n_train)]
        write_csv(
            root / "train.csv",
            ["label", *cols],
            [[y, *r] for y, r in zip(labels, train.tolist(), strict=True)],
        )
        write_csv(root / "test.csv", cols, test.tolist())
        if sample:
            write_csv(
                root / "sample_submission.csv",
                ["ImageId", "Label"],
                [(i, 0) for i in range(1, n_test + 1)],
            )
        return root

    def npz(self, name: str = "arrays", **arrays: np.ndarray) -> Path:
        root = self.tmp / name
        root.mkdir(parents=True)
        np.savez(root / "data.npz", **arrays)
        return root


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of the image decoder (one call per fresh load of an image layout)."""
    calls: list[int] = []
    real = _images.decode_images

    def counting(paths, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(paths))
        return real(paths, **kwargs)

    monkeypatch.setattr(_images, "decode_images", counting)
    return calls


@pytest.fixture
def build(tmp_path: Path) -> Build:
    return Build(tmp_path)
