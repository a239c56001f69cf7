"""Each of the five layouts loads: shapes, dtypes, label/id types and order, answer keys."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from toolkit.data import FORMATS, Competition, _images, detect_format, load_competition
from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from conftest import Build


def _png(path: Path) -> np.ndarray:
    """A PNG's pixels as (C, H, W)."""
    arr = np.asarray(Image.open(path))
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _check_arrays(comp: Competition, n: int, m: int, c: int, size: int) -> None:
    assert comp.x_train.shape == (n, c, size, size) and comp.x_train.dtype == np.uint8
    assert comp.x_test.shape == (m, c, size, size) and comp.x_test.dtype == np.uint8
    assert comp.y_train.shape == (n,) and comp.y_train.dtype == np.int64
    assert len(comp.test_ids) == m
    assert (comp.channels, comp.image_size) == (c, size)


def test_kaggle_rgb_png_string_labels(build: Build) -> None:
    root = build.kaggle(classes=("dog", "cat", "ant"), per_class=2, n_test=3, size=8)
    comp = load_competition(root)
    assert comp.format == "kaggle-images" == detect_format(root)
    _check_arrays(comp, 6, 3, 3, 8)
    assert comp.classes == ("ant", "cat", "dog")
    assert all(type(c) is str for c in comp.classes)
    # train.csv row i has id i+1 and label classes[i % 3]; pixels match the files exactly.
    for i in range(6):
        assert comp.classes[comp.y_train[i]] == ("dog", "cat", "ant")[i % 3]
        assert np.array_equal(comp.x_train[i], _png(root / "train" / f"{i + 1}.png"))
    assert comp.test_ids == (9, 8, 7)  # sample_submission order, not file order
    assert all(type(i) is int for i in comp.test_ids)
    assert np.array_equal(comp.x_test[0], _png(root / "test" / "9.png"))
    assert (comp.id_column, comp.label_column) == ("id", "label")
    assert comp.has_answers and comp.y_test is not None
    assert [comp.classes[k] for k in comp.y_test] == ["dog", "ant", "cat"]  # ids 9, 8, 7
    assert comp.num_classes == 3 and comp.name == "kaggle"


def test_kaggle_gray_jpeg_int_labels_custom_columns(build: Build) -> None:
    root = build.kaggle(
        classes=(3, 10, 7), size=12, channels=1, ext="jpg", columns=("ImageId", "Category")
    )
    comp = load_competition(root)
    _check_arrays(comp, 9, 4, 1, 12)
    assert comp.classes == (3, 7, 10)  # numeric order
    assert all(type(c) is int for c in comp.classes)
    assert (comp.id_column, comp.label_column) == ("ImageId", "Category")


def test_kaggle_ids_keep_their_text(build: Build) -> None:
    root = build.kaggle(n_test=2)
    (root / "train" / "1.png").rename(root / "train" / "007.png")
    csv = (root / "train.csv").read_text().replace("\n1,", "\n007,")
    (root / "train.csv").write_text(csv)
    comp = load_competition(root)
    assert comp.x_train.shape[0] == 6  # "007" matched train/007.png (not int 7)


def test_kaggle_ids_may_include_the_extension(build: Build) -> None:
    root = build.kaggle()
    lines = (root / "train.csv").read_text().splitlines()
    fixed = [lines[0]] + [f"{r.split(',')[0]}.png,{r.split(',')[1]}" for r in lines[1:]]
    (root / "train.csv").write_text("\n".join(fixed) + "\n")
    assert load_competition(root).x_train.shape[0] == 6


def test_gray_and_colour_mix_becomes_rgb(build: Build) -> None:
    root = build.kaggle(channels=1, answers=False)
    colour = np.zeros((8, 8, 3), dtype=np.uint8)
    colour[..., 0] = 200
    Image.fromarray(colour).save(root / "train" / "2.png")
    Image.fromarray(colour).convert("P", palette=Image.Palette.ADAPTIVE).save(
        root / "train" / "3.png"
    )
    Image.fromarray(colour).convert("RGBA").save(root / "train" / "4.png")
    comp = load_competition(root)
    assert comp.channels == 3
    gray = _png(root / "train" / "1.png")[0]
    assert all(np.array_equal(comp.x_train[0, c], gray) for c in range(3))  # replicated
    assert comp.x_train[1, 0].max() == 200 and comp.x_train[1, 1].max() == 0
    assert np.array_equal(comp.x_train[2], comp.x_train[1])
    assert np.array_equal(comp.x_train[3], comp.x_train[1])


def test_gray_palette_and_la_stay_one_channel(build: Build) -> None:
    root = build.kaggle(channels=1, answers=False)
    gray = np.full((8, 8), 90, dtype=np.uint8)
    Image.fromarray(gray).convert("P").save(root / "train" / "2.png")
    Image.fromarray(gray).convert("LA").save(root / "train" / "3.png")
    comp = load_competition(root)
    assert comp.channels == 1
    assert (comp.x_train[1] == 90).all() and (comp.x_train[2] == 90).all()


def test_sixteen_bit_grayscale_is_scaled(build: Build) -> None:
    root = build.kaggle(channels=1, answers=False)
    Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)).save(root / "train" / "2.png")
    comp = load_competition(root)
    assert comp.channels == 1 and (comp.x_train[1] == 255).all()


def test_image_folder(build: Build) -> None:
    root = build.folder(classes=("bees", "ants", "wasps"), size=12, channels=1)
    comp = load_competition(root)
    assert comp.format == "image-folder" == detect_format(root)
    _check_arrays(comp, 6, 3, 1, 12)
    assert comp.classes == ("ants", "bees", "wasps")
    assert comp.test_ids == ("img0", "img1", "img2")
    assert (comp.id_column, comp.label_column) == ("id", "label")
    assert not comp.has_answers
    counts = np.bincount(comp.y_train)
    assert counts.tolist() == [2, 2, 2]


def test_image_folder_numeric_class_names_stay_strings(build: Build) -> None:
    root = build.folder(classes=("0", "1"), channels=3, size=8)
    comp = load_competition(root)
    assert comp.classes == ("0", "1") and comp.channels == 3


def test_image_folder_with_sample_submission_and_labelled_test(build: Build) -> None:
    root = build.folder(n_test=3)
    build.write_csv(
        root / "sample_submission.csv",
        ["file", "species"],
        [("img2", "x"), ("img0", "x"), ("img1", "x")],
    )
    comp = load_competition(root)
    assert comp.test_ids == ("img2", "img0", "img1")
    assert (comp.id_column, comp.label_column) == ("file", "species")

    labelled = build.folder(name="labelled", n_test=0)
    for label in ("ants", "bees"):
        (labelled / "test" / label).mkdir(parents=True)
        Image.fromarray(np.zeros((12, 12), np.uint8)).save(labelled / "test" / label / "a.png")
    comp = load_competition(labelled)
    assert comp.test_ids == ("ants/a", "bees/a")
    assert comp.y_test is not None and [comp.classes[k] for k in comp.y_test] == ["ants", "bees"]


@pytest.mark.parametrize("nested", [True, False])
def test_cifar10_batches(build: Build, nested: bool) -> None:
    root = build.cifar(nested=nested, names=("ship", "airplane", "cat"), size=8)
    comp = load_competition(root)
    assert comp.format == "cifar-python" == detect_format(root)
    _check_arrays(comp, 12, 6, 3, 8)
    assert comp.classes == ("airplane", "cat", "ship")  # sorted names; labels re-indexed
    # First training image: label 0 = "ship"; planes R, G, B of the row.
    folder = root / "cifar-10-batches-py" if nested else root
    import pickle

    with (folder / "data_batch_1").open("rb") as f:
        batch = pickle.load(f, encoding="bytes")
    assert comp.classes[comp.y_train[0]] == "ship"
    assert np.array_equal(comp.x_train[0], batch[b"data"][0].reshape(3, 8, 8))
    assert comp.test_ids == tuple(range(6))
    assert comp.y_test is not None and comp.classes[comp.y_test[1]] == "airplane"


def test_cifar100_fine_labels(build: Build) -> None:
    root = build.cifar(hundred=True, size=12, names=("apple", "bear", "camel", "dolphin"))
    comp = load_competition(root)
    _check_arrays(comp, 12, 6, 3, 12)
    assert comp.classes == ("apple", "bear", "camel", "dolphin")


def test_pixel_csv_grayscale(build: Build) -> None:
    root = build.pixel_csv(size=5, n_test=3)
    comp = load_competition(root)
    assert comp.format == "pixel-csv" == detect_format(root)
    _check_arrays(comp, 6, 3, 1, 5)
    assert comp.classes == (0, 1, 2)
    assert comp.test_ids == (1, 2, 3)
    assert (comp.id_column, comp.label_column) == ("ImageId", "Label")
    row = (root / "train.csv").read_text().splitlines()[1].split(",")
    assert comp.x_train[0].ravel().tolist() == [int(v) for v in row[1:]]


def test_pixel_csv_rgb_channel_last(build: Build) -> None:
    root = build.pixel_csv(size=4, channels=3, sample=False)
    comp = load_competition(root)
    _check_arrays(comp, 6, 3, 3, 4)
    row = [int(v) for v in (root / "train.csv").read_text().splitlines()[1].split(",")[1:]]
    expected = np.asarray(row, dtype=np.uint8).reshape(4, 4, 3).transpose(2, 0, 1)
    assert np.array_equal(comp.x_train[0], expected)
    assert comp.test_ids == (0, 1, 2)  # no sample_submission.csv: row numbers


def test_pixel_csv_test_id_column_is_reordered(build: Build) -> None:
    root = build.pixel_csv(size=2, n_test=3)
    lines = (root / "test.csv").read_text().splitlines()
    rows = [f"{i},{line}" for i, line in zip((3, 1, 2), lines[1:], strict=True)]
    (root / "test.csv").write_text("\n".join(["ImageId," + lines[0], *rows]) + "\n")
    comp = load_competition(root)
    assert comp.test_ids == (1, 2, 3)
    first = [int(v) for v in lines[2].split(",")]  # the row with ImageId 1
    assert comp.x_test[0].ravel().tolist() == first


@pytest.mark.parametrize(
    ("x_train", "x_test", "channels"),
    [
        (
            np.random.default_rng(0).random((6, 10, 10, 3)),
            np.random.default_rng(1).random((2, 10, 10, 3)),
            3,
        ),
        (np.zeros((6, 1, 9, 9), np.uint8), np.ones((2, 1, 9, 9), np.uint8), 1),
        (np.zeros((6, 7, 7), np.uint8), np.zeros((2, 7, 7), np.uint8), 1),
        (np.zeros((6, 6, 6, 4), np.uint8), np.zeros((2, 6, 6, 4), np.uint8), 3),
    ],
    ids=["nhwc-float", "nchw", "nhw", "rgba"],
)
def test_npz_layouts(build: Build, x_train: np.ndarray, x_test: np.ndarray, channels: int) -> None:
    y = np.array([0, 1, 2, 0, 1, 2])
    root = build.npz(x_train=x_train, y_train=y, x_test=x_test)
    comp = load_competition(root)
    assert comp.format == "npz" == detect_format(root)
    size = x_train.shape[2]
    _check_arrays(comp, 6, 2, channels, size)
    assert comp.classes == (0, 1, 2) and comp.test_ids == (0, 1)
    if x_train.dtype.kind == "f":
        expected = np.rint(x_train[0].transpose(2, 0, 1) * 255).astype(np.uint8)
        assert np.array_equal(comp.x_train[0], expected)


def test_npz_names_ids_and_answers(build: Build) -> None:
    root = build.npz(
        X_train=np.zeros((4, 8, 8), np.uint8),
        y_train=np.array([1, 0, 1, 0]),
        x_test=np.zeros((2, 8, 8), np.uint8),
        y_test=np.array([0, 1]),
        class_names=np.array(["zebra", "ant"]),
        test_ids=np.array(["t1", "t2"]),
    )
    comp = load_competition(root / "data.npz")  # the file itself works too
    assert comp.classes == ("ant", "zebra")
    assert [comp.classes[k] for k in comp.y_train] == ["ant", "zebra", "ant", "zebra"]
    assert comp.y_test is not None and [comp.classes[k] for k in comp.y_test] == ["zebra", "ant"]
    assert comp.test_ids == ("t1", "t2") and comp.name == "data"


def test_npz_string_labels(build: Build) -> None:
    root = build.npz(
        x_train=np.zeros((4, 3, 8, 8), np.uint8),
        y_train=np.array(["b", "a", "b", "a"]),
        x_test=np.zeros((1, 3, 8, 8), np.uint8),
    )
    comp = load_competition(root)
    assert comp.classes == ("a", "b") and comp.y_train.tolist() == [1, 0, 1, 0]


def test_parallel_decoding_matches_in_process(
    build: Build, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = build.kaggle(per_class=40, n_test=30, channels=3)
    serial = load_competition(root, workers=1, cache_dir=tmp_path / "c1")
    monkeypatch.setattr(_images, "PARALLEL_MIN_IMAGES", 0)
    monkeypatch.setattr(_images, "_MIN_CHUNK", 7)
    parallel = load_competition(root, workers=2, cache_dir=tmp_path / "c2")
    assert np.array_equal(serial.x_train, parallel.x_train)
    assert np.array_equal(serial.x_test, parallel.x_test)


def test_parallel_decoding_lets_go_of_each_chunk(build: Build) -> None:
    """A decoded chunk is freed once it has been copied out, not kept to the end of the
    load by its future (which doubled the first load's peak memory)."""
    import gc
    import weakref

    root = build.kaggle(per_class=6, n_test=4, channels=3)
    jobs = [(str(p), p.name) for p in sorted((root / "train").iterdir())]
    plan = _images.Plan(channels=3, size=8, resize="crop", resample=False)
    tasks = [(jobs[:4], plan, None, 0), (jobs[4:8], plan, None, 4), (jobs[8:], plan, None, 8)]
    with _images._Pool(2) as pool:  # in memory (no cache file): chunks come back
        results = pool.run(_images._decode_chunk, tasks)
        first, error, _ = next(results)
        assert error is None and first is not None and len(first) == 4
        ref = weakref.ref(first)
        del first
        second = next(results)[0]
        gc.collect()
        assert ref() is None  # the first chunk is gone while the second is in use
        assert second is not None and len(second) == 4
        assert [r[0] is not None for r in results] == [True]


def test_formats_constant_lists_every_layout() -> None:
    assert FORMATS == ("kaggle-images", "image-folder", "cifar-python", "pixel-csv", "npz")


def test_arrays_are_read_only(build: Build) -> None:
    comp = load_competition(build.kaggle())
    with pytest.raises(ValueError):
        comp.x_train[0, 0, 0, 0] = 1


def test_colour_chunk_after_grayscale_chunks(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_images, "_MIN_CHUNK", 1)  # several chunks even in-process
    root = build.kaggle(channels=1, per_class=4, answers=False)
    build.write_image(root / "test" / "9.png", np.full((8, 8, 3), (10, 20, 30), np.uint8))
    comp = load_competition(root, workers=1)
    assert comp.channels == 3
    gray = _png(root / "train" / "1.png")[0]
    assert all(np.array_equal(comp.x_train[0, c], gray) for c in range(3))
    assert comp.x_test[comp.test_ids.index(9)][:, 0, 0].tolist() == [10, 20, 30]


def test_kaggle_train_ids_are_train_csv_ids_as_written_in_its_order(build: Build) -> None:
    root = build.kaggle(answers=False)
    (root / "train" / "1.png").rename(root / "train" / "007.png")
    header, *rows = (root / "train.csv").read_text().splitlines()
    rows = [r.replace("1,", "007,", 1) if r.startswith("1,") else r for r in rows]
    rows = rows[3:] + rows[:3]  # not the files' order: 4, 5, 6, 007, 2, 3
    (root / "train.csv").write_text("\n".join([header, *rows]) + "\n")
    listed = [r.split(",")[0] for r in rows]
    for comp in (load_competition(root), load_competition(root)):  # fresh, then cached
        assert comp.train_ids == tuple(listed) == ("4", "5", "6", "007", "2", "3")
        for i, name in enumerate(listed):  # row i of x_train is the image of id i
            assert np.array_equal(comp.x_train[i], _png(root / "train" / f"{name}.png"))


def test_image_folder_train_ids_are_paths_under_train(build: Build) -> None:
    root = build.folder(classes=("bees", "ants"), per_class=2, channels=1)
    build.write_image(root / "train" / "ants" / "ants_10.png", np.zeros((12, 12), np.uint8))
    comp = load_competition(root)
    expected = ("ants/ants_0.png", "ants/ants_1.png", "ants/ants_10.png")
    assert comp.train_ids == (*expected, "bees/bees_0.png", "bees/bees_1.png")
    for i, path in enumerate(comp.train_ids):  # aligned with the stacked images and labels
        assert np.array_equal(comp.x_train[i], _png(root / "train" / str(path)))
        assert comp.classes[comp.y_train[i]] == str(path).split("/")[0]


def test_array_layouts_without_an_id_column_have_no_train_ids(build: Build) -> None:
    assert load_competition(build.pixel_csv()).train_ids == ()  # Digit Recognizer: label, pixels
    assert load_competition(build.cifar()).train_ids == ()
    arrays = build.npz(
        x_train=np.zeros((4, 8, 8), np.uint8),
        y_train=np.array([0, 1, 0, 1]),
        x_test=np.zeros((2, 8, 8), np.uint8),
    )
    assert load_competition(arrays).train_ids == ()


def _with_train_id_column(root: Path, ids: list[str], name: str = "id") -> None:
    header, *rows = (root / "train.csv").read_text().splitlines()
    lines = [f"{name},{header}", *(f"{i},{r}" for i, r in zip(ids, rows, strict=True))]
    (root / "train.csv").write_text("\n".join(lines) + "\n")


def test_pixel_csv_train_id_column_names_the_rows(build: Build) -> None:
    root = build.pixel_csv(size=2)
    _with_train_id_column(root, ["a", "b", "007", "d", "e", "f"], name="ImageId")
    comp = load_competition(root)  # the submission's id column, ImageId
    assert comp.train_ids == ("a", "b", "007", "d", "e", "f")
    assert comp.classes == (0, 1, 2)  # the id column is not taken for the labels


def test_pixel_csv_repeated_train_ids_are_dropped_not_refused(
    build: Build, caplog: pytest.LogCaptureFixture
) -> None:
    root = build.pixel_csv(size=2)
    _with_train_id_column(root, ["a", "a", "b", "c", "d", "e"])
    with caplog.at_level(logging.WARNING, logger="toolkit.data"):
        comp = load_competition(root)
    assert comp.train_ids == () and comp.x_train.shape[0] == 6
    assert "duplicate ids" in caplog.text


def test_npz_train_ids(build: Build) -> None:
    x = np.zeros((4, 8, 8), np.uint8)
    root = build.npz(
        x_train=x, y_train=np.array([0, 1, 0, 1]), x_test=x[:2], train_ids=np.arange(10, 14)
    )
    assert load_competition(root).train_ids == (10, 11, 12, 13)
    bad = build.npz("bad", x_train=x, y_train=np.array([0, 1, 0, 1]), x_test=x, train_ids=x[0, 0])
    with pytest.raises(ToolkitError, match="train_ids has shape"):
        load_competition(bad)


def test_a_competition_built_by_hand_has_no_train_ids(build: Build) -> None:
    comp = load_competition(build.kaggle())
    fields = {f: getattr(comp, f) for f in Competition.__dataclass_fields__ if f != "train_ids"}
    assert Competition(**fields).train_ids == ()
