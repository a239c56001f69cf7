"""Bad competitions: one-line ToolkitError naming the problem, and nothing left in the cache."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from toolkit.data import detect_format, load_competition
from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from conftest import Build


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# (case id, how to break a fresh kaggle folder, regex the message must match). Mixed sizes and
# non-square images are not breakage: they load at one size (tests/data/test_photos.py).
KAGGLE_CASES: list[tuple[str, Callable[[Build, Path], None], str]] = [
    ("no-train-csv", lambda b, r: (r / "train.csv").unlink(), r"no train\.csv"),
    (
        "no-sample-submission",
        lambda b, r: (r / "sample_submission.csv").unlink(),
        r"missing sample_submission\.csv",
    ),
    (
        "empty-train",
        lambda b, r: (r / "train.csv").write_text("id,label\n"),
        r"train set is empty",
    ),
    (
        "corrupt-image",
        lambda b, r: (r / "train" / "2.png").write_bytes(b"not an image at all"),
        r"cannot read image train/2\.png",
    ),
    ("truncated-image", lambda b, r: _truncate(r / "train" / "3.png"), r"image train/3\.png"),
    ("zero-byte-image", lambda b, r: (r / "test" / "8.png").write_bytes(b""), r"test/8\.png"),
    (
        "no-label-column",
        lambda b, r: (r / "train.csv").write_text("id\n1\n2\n"),
        r"train\.csv has no label column",
    ),
    (
        "empty-label",
        lambda b, r: _rewrite(r / "train.csv", "1,cat", "1,"),
        r"line 2: label .*empty",
    ),
    ("nan-label", lambda b, r: _rewrite(r / "train.csv", "2,dog", "2,NaN"), r"line 3: .*NaN"),
    (
        "test-image-not-in-sample",
        lambda b, r: b.write_image(r / "test" / "99.png", np.zeros((8, 8, 3), np.uint8)),
        r"not in sample_submission\.csv \(99\.png\)",
    ),
    (
        "sample-id-without-image",
        lambda b, r: (r / "test" / "9.png").unlink(),
        r"sample_submission\.csv lists 1 ids with no image in test/ \(9\)",
    ),
    (
        "duplicate-train-id",
        lambda b, r: _rewrite(r / "train.csv", "2,dog", "1,dog"),
        r"train\.csv has duplicate ids in 'id': 1",
    ),
    (
        "duplicate-sample-id",
        lambda b, r: _rewrite(r / "sample_submission.csv", "9,cat", "10,cat"),
        r"sample_submission\.csv has duplicate ids",
    ),
    (
        "train-id-without-image",
        lambda b, r: (r / "train" / "5.png").unlink(),
        r"train\.csv lists 1 ids with no image in train/ \(5\)",
    ),
    (
        "one-class",
        lambda b, r: (r / "train.csv").write_text(
            "id,label\n" + "".join(f"{i},cat\n" for i in range(1, 7))
        ),
        r"train\.csv has a single class \('cat'\).*at least 2 classes",
    ),
    (
        "id-with-spaces",
        lambda b, r: _rewrite(r / "train.csv", "\n3,", "\n 3,"),
        r"id ' 3' .*leading/trailing spaces",
    ),
    (
        "answer-key-unknown-label",
        lambda b, r: _rewrite(r / "test_labels.csv", "cat", "cow"),
        r"test_labels\.csv has labels that are not training classes: cow",
    ),
    (
        "garbage-train-csv",
        lambda b, r: (r / "train.csv").write_bytes(bytes(range(256)) * 4),
        r"train\.csv",
    ),
    ("no-test-folder", lambda b, r: _rmtree(r / "test"), r"test/"),
]


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


def _assert_clean_error(err: ToolkitError, pattern: str, cache: Path) -> None:
    import re

    message = str(err)
    assert "\n" not in message
    assert re.search(pattern, message), message
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))


@pytest.mark.parametrize(
    ("breakage", "pattern"),
    [(c[1], c[2]) for c in KAGGLE_CASES],
    ids=[c[0] for c in KAGGLE_CASES],
)
def test_broken_kaggle_folder(
    build: Build, cache_dir: Path, breakage: Callable[[Build, Path], None], pattern: str
) -> None:
    root = build.kaggle()
    breakage(build, root)
    with pytest.raises(ToolkitError) as info:
        load_competition(root)
    _assert_clean_error(info.value, pattern, cache_dir)


def test_missing_folder(tmp_path: Path, cache_dir: Path) -> None:
    with pytest.raises(ToolkitError) as info:
        load_competition(tmp_path / "nope")
    _assert_clean_error(info.value, r"nope does not exist", cache_dir)


def test_unrecognised_layout_lists_the_formats(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("hello")
    with pytest.raises(ToolkitError) as info:
        detect_format(tmp_path / "stuff")
    for fmt in ("kaggle-images", "image-folder", "cifar-python", "pixel-csv", "npz"):
        assert fmt in str(info.value)


def test_flat_train_images_without_csv(build: Build) -> None:
    root = build.kaggle()
    (root / "train.csv").unlink()
    with pytest.raises(ToolkitError, match=r"no train\.csv with their labels"):
        detect_format(root)


def test_pixel_count_not_square(build: Build, cache_dir: Path) -> None:
    root = build.pixel_csv(size=3)
    header = ",".join(["label", *(f"pixel{i}" for i in range(10))])
    (root / "train.csv").write_text(header + "\n" + "1," + ",".join(["0"] * 10) + "\n")
    with pytest.raises(ToolkitError) as info:
        load_competition(root)
    _assert_clean_error(info.value, r"pixel count 10 is not a square", cache_dir)


def test_pixel_csv_bad_cell(build: Build, cache_dir: Path) -> None:
    root = build.pixel_csv(size=2)
    header = ",".join(f"pixel{i}" for i in range(4))
    (root / "test.csv").write_text(f"{header}\n1,2,abc,4\n")
    with pytest.raises(ToolkitError) as info:
        load_competition(root)
    _assert_clean_error(info.value, r"cannot parse test\.csv", cache_dir)


def test_image_folder_loose_train_image(build: Build, cache_dir: Path) -> None:
    root = build.folder()
    build.write_image(root / "train" / "stray.png", np.zeros((12, 12), np.uint8))
    with pytest.raises(ToolkitError) as info:
        load_competition(root)
    _assert_clean_error(info.value, r"train/stray\.png is not inside a class folder", cache_dir)


def test_image_folder_one_class(build: Build, cache_dir: Path) -> None:
    root = build.folder(classes=("only",))
    with pytest.raises(ToolkitError) as info:
        load_competition(root)
    _assert_clean_error(info.value, r"at least 2 classes", cache_dir)


def test_cifar_wrong_keys(build: Build, cache_dir: Path) -> None:
    root = build.cifar()
    with (root / "cifar-10-batches-py" / "data_batch_2").open("wb") as f:
        pickle.dump({b"pixels": np.zeros((2, 192), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(ToolkitError) as info:
        load_competition(root)
    _assert_clean_error(info.value, r"data_batch_2 has keys .*expected 'data'", cache_dir)


class _Boom:
    """Unpickling this would call os.system: the restricted unpickler must refuse it."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("touch /tmp/toolkit-pwned",)


def test_cifar_pickle_cannot_run_code(build: Build, cache_dir: Path) -> None:
    root = build.cifar()
    with (root / "cifar-10-batches-py" / "test_batch").open("wb") as f:
        pickle.dump({b"data": _Boom(), b"labels": [0]}, f)
    with pytest.raises(ToolkitError) as info:
        load_competition(root)
    _assert_clean_error(info.value, r"refusing to load (posix|os)\.system", cache_dir)
    assert not Path("/tmp/toolkit-pwned").exists()


@pytest.mark.parametrize(
    ("arrays", "pattern"),
    [
        ({"x_train": np.zeros((2, 4, 4), np.uint8)}, r"lacks y_train, x_test"),
        (
            {
                "x_train": np.zeros((4, 5, 4), np.uint8),
                "y_train": np.array([0, 1, 0, 1]),
                "x_test": np.zeros((1, 5, 4), np.uint8),
            },
            r"x_train has shape \(4, 5, 4\)",
        ),
        (
            {
                "x_train": np.zeros((4, 4, 4), np.uint8),
                "y_train": np.array([0, 1, 0]),
                "x_test": np.zeros((1, 4, 4), np.uint8),
            },
            r"y_train has shape \(3,\) but there are 4 images",
        ),
        (
            {
                "x_train": np.full((4, 4, 4), 300.0),
                "y_train": np.array([0, 1, 0, 1]),
                "x_test": np.zeros((1, 4, 4), np.uint8),
            },
            r"pixel values up to 300",
        ),
        (
            {
                "x_train": np.zeros((4, 4, 4), np.uint8),
                "y_train": np.array([0, 0, 0, 0]),
                "x_test": np.zeros((1, 4, 4), np.uint8),
            },
            r"at least 2 classes",
        ),
        (
            {
                "x_train": np.zeros((0, 4, 4), np.uint8),
                "y_train": np.zeros(0, np.int64),
                "x_test": np.zeros((1, 4, 4), np.uint8),
            },
            r"train set .* is empty",
        ),
    ],
    ids=["missing-keys", "non-square", "label-count", "pixel-range", "one-class", "empty"],
)
def test_bad_npz(
    build: Build, cache_dir: Path, arrays: dict[str, np.ndarray], pattern: str
) -> None:
    root = build.npz(**arrays)
    with pytest.raises(ToolkitError) as info:
        load_competition(root)
    _assert_clean_error(info.value, pattern, cache_dir)


def test_npz_object_array_is_refused(tmp_path: Path, cache_dir: Path) -> None:
    (tmp_path / "obj").mkdir()
    np.savez(
        tmp_path / "obj" / "d.npz",
        x_train=np.zeros((2, 4, 4), np.uint8),
        y_train=np.array([{"a": 1}, None], dtype=object),
        x_test=np.zeros((1, 4, 4), np.uint8),
    )
    with pytest.raises(ToolkitError) as info:
        load_competition(tmp_path / "obj")
    _assert_clean_error(info.value, r"y_train holds Python objects", cache_dir)


@pytest.mark.parametrize("layout", ["kaggle", "pixel_csv", "npz", "cifar", "folder"])
@pytest.mark.parametrize("seed", range(6))
def test_random_bytes_only_raise_toolkit_error(build: Build, layout: str, seed: int) -> None:
    """Overwrite one file of a valid folder with random bytes: load or ToolkitError, nothing
    else (a small, fixed-seed stand-in for the fuzzer)."""
    if layout == "npz":
        root = build.npz(
            x_train=np.zeros((4, 4, 4), np.uint8),
            y_train=np.array([0, 1, 0, 1]),
            x_test=np.zeros((1, 4, 4), np.uint8),
        )
    else:
        root = getattr(build, layout)()
    files = sorted(p for p in root.rglob("*") if p.is_file())
    rng = np.random.default_rng(seed)
    victim = files[rng.integers(len(files))]
    data = victim.read_bytes()
    if seed % 2:  # flip bytes in place: parsers get further than with pure noise
        noisy = bytearray(data)
        for i in rng.integers(0, max(1, len(data)), 8).tolist():
            if noisy:
                noisy[i] = int(rng.integers(256))
        victim.write_bytes(bytes(noisy))
    else:
        victim.write_bytes(rng.integers(0, 256, int(rng.integers(0, 300)), np.uint8).tobytes())
    try:
        load_competition(root)
    except ToolkitError as err:
        assert "\n" not in str(err)
