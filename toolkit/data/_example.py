"""Bundled example competitions, written as ordinary Kaggle-layout folders.

``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes, no
download), as train/<id>.png and test/<id>.png grayscale PNGs, train.csv (id,label),
sample_submission.csv (id,label, placeholder labels) and test_labels.csv (the answer key).

``photos``: crops of scikit-learn's two bundled photos in many sizes, shapes, formats and
modes, 4 classes (2 for a probability submission); see :mod:`._example_photos`.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from toolkit.data._example_photos import SUBMISSION_KINDS, write_photos
from toolkit.data._split import split_validation
from toolkit.errors import ToolkitError

EXAMPLES = ("digits", "photos")
_MANIFEST = ".toolkit-example.json"  # marks a finished example, for idempotent re-runs
_VERSION = 1  # bump when the written files change


def make_example(
    name: str,
    out: str | Path,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    submission: str = "label",
    n_images: int = 240,
) -> Path:
    """Write example competition ``name`` to the new (or empty) folder ``out``; return ``out``.

    The split into train/test is stratified and seeded; ids are shuffled (integers for
    digits, "img_0001"-style strings for photos). ``submission`` and ``n_images`` are for
    photos only: the sample submission's shape (one of ``SUBMISSION_KINDS``: "label",
    "probability", "class-probabilities", "top-k") and the number of crops. Writing the same
    example again to the same folder is a no-op. The folder is assembled beside ``out`` and
    renamed into place, so an interrupted run leaves nothing half-written.
    """
    if name not in EXAMPLES:
        raise ToolkitError(f"unknown example {name!r}; available: {', '.join(EXAMPLES)}.")
    if not 0.0 < test_fraction < 1.0:
        raise ToolkitError(f"test_fraction must be in (0, 1), got {test_fraction}.")
    if submission not in SUBMISSION_KINDS:
        raise ToolkitError(
            f"unknown submission kind {submission!r}; use one of {', '.join(SUBMISSION_KINDS)}."
        )
    if name == "digits" and (submission != "label" or n_images != 240):
        raise ToolkitError(
            "the digits example has label submissions and all 1,797 digits; drop the "
            "submission/n_images settings (they are for the photos example)."
        )
    if not 20 <= n_images <= 20_000:
        raise ToolkitError(f"n_images must be from 20 to 20000, got {n_images}.")
    out = Path(out).expanduser()
    wanted: dict[str, object] = {
        "example": name,
        "seed": seed,
        "test_fraction": test_fraction,
        "version": _VERSION,
    }
    if name == "photos":
        wanted |= {"submission": submission, "n_images": n_images}
    if out.exists():
        if not out.is_dir():
            raise ToolkitError(f"{out} is a file; choose a folder name for the example.")
        if any(out.iterdir()):
            if _is_example(out, wanted):
                return out
            raise ToolkitError(
                f"{out} is not empty; choose a new or empty folder for the example."
            )
    tmp: Path | None = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        if name == "photos":
            write_photos(
                tmp,
                seed=seed,
                test_fraction=test_fraction,
                submission=submission,
                n_images=n_images,
            )
        else:
            _write_digits(tmp, seed=seed, test_fraction=test_fraction)
        files = {
            p.relative_to(tmp).as_posix(): p.stat().st_size for p in tmp.rglob("*") if p.is_file()
        }
        (tmp / _MANIFEST).write_text(json.dumps({**wanted, "files": files}), encoding="utf-8")
        os.replace(tmp, out)  # out is absent or an empty folder: one atomic rename
        tmp = None
    except OSError as err:
        raise ToolkitError(
            f"cannot write the example to {out}: {err}; pick another folder."
        ) from err
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _write_digits(folder: Path, *, seed: int, test_fraction: float) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)  # (N, 8, 8)
    labels = digits.target.astype(np.int64)  # (N,)
    rng = np.random.default_rng(seed)
    ids = rng.permutation(len(images)) + 1  # shuffled ids carry no class or split information
    train_idx, test_idx = split_validation(labels, test_fraction, seed)
    for split, idx in (("train", train_idx), ("test", test_idx)):
        (folder / split).mkdir()
        for i in idx.tolist():
            Image.fromarray(images[i]).save(folder / split / f"{ids[i]}.png")
    train_rows = sorted((int(ids[i]), int(labels[i])) for i in train_idx)
    test_rows = sorted((int(ids[i]), int(labels[i])) for i in test_idx)
    _write_csv(folder / "train.csv", ["id", "label"], train_rows)
    _write_csv(folder / "sample_submission.csv", ["id", "label"], [(i, 0) for i, _ in test_rows])
    _write_csv(folder / "test_labels.csv", ["id", "label"], test_rows)
    (folder / "README.md").write_text(
        "# digits: scikit-learn's 8x8 handwritten digits as a Kaggle-layout competition\n\n"
        f"- train/<id>.png ({len(train_rows)} images) with train.csv (id,label)\n"
        f"- test/<id>.png ({len(test_rows)} images) with sample_submission.csv (id,label)\n"
        "- test_labels.csv: the answer key, for local scoring only\n"
        f"- stratified split with seed {seed}, test fraction {test_fraction}; shuffled ids\n",
        encoding="utf-8",
    )


def _write_csv(path: Path, header: list[str], rows: list[tuple[int, int]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _is_example(folder: Path, wanted: dict[str, object]) -> bool:
    """True when ``folder`` holds the finished example ``wanted``, every file intact."""
    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
        if {k: manifest.get(k) for k in wanted} != wanted:
            return False
        return all(
            (folder / rel).stat().st_size == size for rel, size in manifest["files"].items()
        )
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return False
