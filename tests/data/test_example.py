"""make_example("digits"): a loadable, idempotent, atomically written Kaggle-layout folder."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from toolkit.data import load_competition, make_example
from toolkit.errors import ToolkitError


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_example("digits", tmp_path_factory.mktemp("ex") / "digits")


def _ids(path: Path) -> list[int]:
    with path.open() as f:
        return [int(row["id"]) for row in csv.DictReader(f)]


def test_layout(digits: Path) -> None:
    names = {p.name for p in digits.iterdir()}
    assert {"train", "test", "train.csv", "sample_submission.csv", "test_labels.csv"} <= names
    train_ids, test_ids = _ids(digits / "train.csv"), _ids(digits / "sample_submission.csv")
    assert len(train_ids) + len(test_ids) == 1797
    assert set(train_ids).isdisjoint(test_ids)
    assert sorted(train_ids + test_ids) == list(range(1, 1798))
    assert _ids(digits / "test_labels.csv") == test_ids
    assert len(list((digits / "train").glob("*.png"))) == len(train_ids)
    assert not [p for p in digits.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_loads_as_ten_grayscale_classes(digits: Path) -> None:
    comp = load_competition(digits)
    assert comp.format == "kaggle-images"
    assert comp.classes == tuple(range(10)) and all(type(c) is int for c in comp.classes)
    assert comp.x_train.shape[1:] == (1, 8, 8)
    assert comp.has_answers and comp.y_test is not None
    assert len(comp.x_test) == round(1797 * 0.2)
    assert (np.bincount(comp.y_test, minlength=10) >= 30).all()  # stratified
    assert comp.x_train.max() == 255  # 0..16 scaled to 0..255


def test_idempotent(digits: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in digits.rglob("*")}
    assert make_example("digits", digits) == digits
    assert {p: p.stat().st_mtime_ns for p in digits.rglob("*")} == before


def test_refuses_other_content(digits: Path, tmp_path: Path) -> None:
    with pytest.raises(ToolkitError, match="not empty"):
        make_example("digits", digits, seed=1)  # same folder, different example
    other = tmp_path / "busy"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ToolkitError, match="not empty"):
        make_example("digits", other)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


def test_empty_existing_folder_is_fine(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    assert make_example("digits", out, seed=2, test_fraction=0.5) == out
    assert len(_ids(out / "sample_submission.csv")) == round(1797 * 0.5)


def test_unknown_example(tmp_path: Path) -> None:
    with pytest.raises(ToolkitError, match="unknown example 'mnist'; available: digits"):
        make_example("mnist", tmp_path / "x")
    assert not (tmp_path / "x").exists()
