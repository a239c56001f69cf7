"""make_example("photos"): real-photo quirks in a Kaggle-layout folder that loads as is, for
each submission shape; ``tk data example photos`` and ``tk data check --image-size/--resize``."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.cli import main
from toolkit.data import AUTO_SIZE_CAP, load_competition, make_example
from toolkit.errors import ToolkitError

CLASSES = ("china_left", "china_right", "flower_left", "flower_right")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_example("photos", tmp_path_factory.mktemp("ex") / "photos")


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_layout_and_variety(photos: Path) -> None:
    train, sample = _rows(photos / "train.csv"), _rows(photos / "sample_submission.csv")
    answers = _rows(photos / "test_labels.csv")
    assert train[0] == ["id", "label"] and sample[0] == ["id", "label"]
    assert len(train) - 1 + len(sample) - 1 == 240
    assert [r[0] for r in answers[1:]] == [r[0] for r in sample[1:]]
    assert all(re.fullmatch(r"img_\d{4}", r[0]) for r in train[1:] + sample[1:])
    assert {r[1] for r in sample[1:]} == {"china_left"}
    files = [*(photos / "train").iterdir(), *(photos / "test").iterdir()]
    assert len(files) == 240
    suffixes = {p.suffix for p in files}
    assert {".jpg", ".JPG", ".jpeg", ".png", ".PNG", ".gif", ".webp", ".bmp", ".tif"} <= suffixes
    modes, turned, sides, ratios = set(), 0, [], []
    for path in files:
        with Image.open(path) as im:
            modes.add(im.mode)
            turned += im.getexif().get(0x0112, 1) != 1
            sides += im.size
            ratios.append(im.width / im.height)
    assert {"RGB", "L", "RGBA", "P", "I;16", "CMYK"} <= modes
    assert turned > 0  # JPEGs stored rotated, with the EXIF tag that turns them upright
    assert min(sides) >= 16 and max(sides) <= 427
    assert 0.5 <= min(ratios) < 0.8 and 1.25 < max(ratios) <= 2.0


def test_loads_as_is(photos: Path) -> None:
    comp = load_competition(photos)
    assert comp.classes == CLASSES and comp.has_answers
    median = comp.image_policy["source_sizes"]["median_side"]
    assert comp.image_size == min(AUTO_SIZE_CAP, median) == 64
    assert comp.x_train.shape[1:] == (3, 64, 64) and len(comp.x_test) == 48
    assert comp.image_policy["source_sizes"]["non_square"] > 200
    assert comp.y_test is not None and (np.bincount(comp.y_test, minlength=4) == 12).all()

    # The halves differ: even a nearest mean-colour rule beats chance (25%) clearly.
    def features(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return np.concatenate([x[:, :, :, :32].mean((2, 3)), x[:, :, :, 32:].mean((2, 3))], 1)

    train, test = features(comp.x_train), features(comp.x_test)
    centres = np.stack([train[comp.y_train == k].mean(0) for k in range(4)])
    guess = np.argmin(((test[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    assert (guess == comp.y_test).mean() > 0.35


@pytest.mark.parametrize(
    ("kind", "header", "value", "classes"),
    [
        ("probability", ["id", "is_flower"], ["0.5"], ("china", "flower")),
        ("class-probabilities", ["id", *CLASSES], ["0.25"] * 4, CLASSES),
        ("top-k", ["id", "labels"], ["china_left china_right flower_left"], CLASSES),
    ],
)
def test_submission_kinds(
    tmp_path: Path, kind: str, header: list[str], value: list[str], classes: tuple[str, ...]
) -> None:
    folder = make_example("photos", tmp_path / kind, submission=kind, n_images=40)
    sample = _rows(folder / "sample_submission.csv")
    assert sample[0] == header and all(row[1:] == value for row in sample[1:])
    answers = _rows(folder / "test_labels.csv")
    assert answers[0] == ["id", "label"] and {r[1] for r in answers[1:]} <= set(classes)
    comp = load_competition(folder)
    assert comp.classes == classes and comp.has_answers
    assert comp.x_train.shape[1] == 3 and comp.image_size == comp.image_policy["size"]
    assert comp.id_column == "id" and comp.label_column == header[1]


def test_idempotent_and_refuses_another_kind(photos: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in photos.rglob("*")}
    assert make_example("photos", photos) == photos
    assert {p: p.stat().st_mtime_ns for p in photos.rglob("*")} == before
    with pytest.raises(ToolkitError, match="not empty"):
        make_example("photos", photos, submission="top-k")


def test_bad_example_settings(tmp_path: Path) -> None:
    with pytest.raises(ToolkitError, match="unknown submission kind 'votes'; use one of label"):
        make_example("photos", tmp_path / "a", submission="votes")
    with pytest.raises(ToolkitError, match="digits example has label submissions"):
        make_example("digits", tmp_path / "b", submission="top-k")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_example_then_check_with_a_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOOLKIT_DEBUG", "0")  # errors stay one line whatever ran before
    out = tmp_path / "photos"
    main(["data", "example", "photos", str(out), "--submission", "top-k"])
    assert str(out) in capsys.readouterr().out
    assert _rows(out / "sample_submission.csv")[0] == ["id", "labels"]
    main(["data", "check", str(out), "--image-size", "32", "--resize", "pad", "--json"])
    info = json.loads(capsys.readouterr().out)
    assert info["image_shape"] == [3, 32, 32] and info["num_classes"] == 4
    policy = info["image_policy"]
    assert policy["size"] == 32 and policy["resize"] == "pad" and policy["requested"] == 32
    assert info["image_size_text"].startswith("32 x 32 (pad; images ")
    main(["data", "check", str(out)])
    table = capsys.readouterr().out
    assert "image size" in table and "64 x 64 (crop; images" in table
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", str(out), "--resize", "zoom"])
    assert exit_info.value.code == 2
    assert "data.resize must be one of crop, pad, stretch" in capsys.readouterr().err
