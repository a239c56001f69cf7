"""Synthetic Kaggle-layout competitions for the data benchmarks, written on every core.

A competition is ``train.csv`` (id,label) + ``train/<id>.<ext>``, ``test/<id>.<ext>``,
``sample_submission.csv`` (id,label) and ``test_labels.csv`` (the answer key), the
``kaggle-images`` layout of the README. Each image is a smooth pattern: an oriented grating
whose angle and tint depend on the class, plus a random low-frequency wave and a little noise,
so a model has something to learn and JPEG/PNG sizes are those of natural-looking images.

Images are written in chunks of :data:`CHUNK` by worker processes; each chunk has its own seed,
so the files are the same whatever the number of workers. A finished folder carries
:data:`MANIFEST`; writing the same spec to it again is a no-op, so the (slow) generation of a
large competition is paid once.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

CHUNK = 2000  # images per task (and per seed)
MANIFEST = ".bench-competition.json"
_VERSION = 2  # bump when the written files change


@dataclass(frozen=True)
class Spec:
    """What to generate."""

    n_train: int  # training images (ids 0 .. n_train-1)
    n_test: int  # test images (ids n_train .. n_train+n_test-1)
    size: int = 32  # square images of size x size pixels
    channels: int = 3  # 3 = RGB, 1 = grayscale
    ext: str = "jpg"  # jpg | png
    quality: int = 75  # JPEG quality
    classes: int = 10
    seed: int = 0

    def manifest(self) -> dict[str, object]:
        return {"version": _VERSION, **asdict(self)}


def ensure_competition(
    root: Path, spec: Spec, *, workers: int | None = None
) -> tuple[Path, bool, float]:
    """Write competition ``spec`` to ``root`` unless it already holds it.

    Returns (root, reused, seconds spent writing). A folder holding another spec of ours is
    replaced; any other non-empty folder is refused (we never delete files we did not write).
    """
    if _holds(root, spec):
        return root, True, 0.0
    if root.exists() and any(root.iterdir()):
        if not (root / MANIFEST).is_file():
            raise SystemExit(f"{root} is not empty and not a benchmark competition; pick --root.")
        shutil.rmtree(root)
    start = time.perf_counter()
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        _write(tmp, spec, workers or os.cpu_count() or 1)
        (tmp / MANIFEST).write_text(json.dumps(spec.manifest()), encoding="utf-8")
        if root.exists():
            root.rmdir()  # empty
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root, False, time.perf_counter() - start


def _holds(root: Path, spec: Spec) -> bool:
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if manifest != spec.manifest():
        return False
    # The right count of files, not just the manifest (a folder someone pruned is rewritten).
    return _count(root / "train") == spec.n_train and _count(root / "test") == spec.n_test


def _count(folder: Path) -> int:
    try:
        with os.scandir(folder) as entries:
            return sum(1 for _ in entries)
    except OSError:
        return -1


def labels_of(spec: Spec) -> np.ndarray:
    """The class of every image, train then test, (n_train + n_test,) int64."""
    rng = np.random.default_rng([spec.seed, 0])
    return rng.integers(0, spec.classes, spec.n_train + spec.n_test)


def _write(folder: Path, spec: Spec, workers: int) -> None:
    (folder / "train").mkdir()
    (folder / "test").mkdir()
    labels = labels_of(spec)
    total = spec.n_train + spec.n_test
    tasks = [(str(folder), spec, s, min(s + CHUNK, total)) for s in range(0, total, CHUNK)]
    if workers > 1 and len(tasks) > 1:
        import multiprocessing as mp

        methods = mp.get_all_start_methods()
        ctx = mp.get_context("fork" if "fork" in methods else methods[0])
        with ctx.Pool(min(workers, len(tasks))) as pool:
            for _ in pool.imap_unordered(_write_chunk, tasks):
                pass
    else:
        for task in tasks:
            _write_chunk(task)
    train_rows = [(i, int(labels[i])) for i in range(spec.n_train)]
    test_rows = [(i, int(labels[i])) for i in range(spec.n_train, total)]
    _write_csv(folder / "train.csv", train_rows)
    _write_csv(folder / "sample_submission.csv", [(i, 0) for i, _ in test_rows])
    _write_csv(folder / "test_labels.csv", test_rows)


def _write_chunk(task: tuple[str, Spec, int, int]) -> int:
    """Write images ``start .. stop-1`` (ids); returns how many."""
    from PIL import Image

    folder, spec, start, stop = task
    labels = labels_of(spec)[start:stop]
    pixels = _patterns(spec, labels, np.random.default_rng([spec.seed, 1, start]))
    options = {"quality": spec.quality} if spec.ext == "jpg" else {"compress_level": 1}
    for offset, image in enumerate(pixels):
        i = start + offset
        split = "train" if i < spec.n_train else "test"
        arr = image[:, :, 0] if spec.channels == 1 else image
        Image.fromarray(arr).save(os.path.join(folder, split, f"{i}.{spec.ext}"), **options)
    return stop - start


def _patterns(spec: Spec, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Smooth class-dependent images, uint8 (n, size, size, channels)."""
    n, s, c = len(labels), spec.size, spec.channels
    yy, xx = np.mgrid[0:s, 0:s] / s  # (s, s) in [0, 1)
    palette = np.random.default_rng([spec.seed, 2]).uniform(0.3, 1.0, (spec.classes, c))
    theta = math.pi * labels / spec.classes + rng.normal(0, 0.15, n)  # (n,)
    freq = rng.uniform(1.5, 3.0, n)[:, None, None]
    along = xx[None] * np.cos(theta)[:, None, None] + yy[None] * np.sin(theta)[:, None, None]
    grating = np.sin(2 * math.pi * freq * along + rng.uniform(0, 2 * math.pi, (n, 1, 1)))
    a, b = rng.uniform(-1.5, 1.5, (2, n, 1, 1))
    wave = np.sin(2 * math.pi * (a * xx[None] + b * yy[None]) + rng.uniform(0, 6.3, (n, 1, 1)))
    tint = rng.uniform(0.3, 1.0, (n, c))
    img = (
        128
        + 70 * grating[..., None] * palette[labels][:, None, None, :]  # (n, s, s, c)
        + 60 * (palette[labels] - 0.65)[:, None, None, :]  # a class colour: linearly visible
        + 40 * wave[..., None] * tint[:, None, None, :]
        + rng.normal(0, 6, (n, s, s, c))
    )
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _write_csv(path: Path, rows: list[tuple[int, int]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["id", "label"])
        writer.writerows(rows)
