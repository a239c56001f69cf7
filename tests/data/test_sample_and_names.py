"""What decides whether a submission can be written is checked at load (the sample's header,
its row widths, its ids as text), and ids match files whatever their Unicode normalisation."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from toolkit.data import load_competition
from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from conftest import Build

NFC = unicodedata.normalize("NFC", "café")
NFD = unicodedata.normalize("NFD", "café")


def _sample(root: Path, text: str) -> None:
    (root / "sample_submission.csv").write_text(text, encoding="utf-8")


def _one_line(err: pytest.ExceptionInfo[ToolkitError]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_nfc_and_nfd_differ() -> None:
    assert NFC != NFD and len(NFD) == len(NFC) + 1  # the test below means something


@pytest.mark.parametrize(
    ("sample", "expect"),
    [
        ("id,label,\n10,cat,\n9,cat,\n8,cat,\n7,cat,\n", "has an empty column name"),
        ("id,label,label\n10,cat,cat\n9,cat,cat\n8,cat,cat\n7,cat,cat\n", "repeats column"),
        ("id,label\n10,cat,\n9,cat,\n8,cat,\n7,cat,\n", "line 2 has 3 fields but its header"),
        ("id,label\n10,cat\n9,cat,x\n8,cat\n7,cat\n", "line 3 has 3 fields"),
    ],
    ids=["trailing-empty-column", "repeated-column", "trailing-comma-rows", "one-wide-row"],
)
def test_a_sample_no_submission_could_match_fails_at_load(
    build: Build, cache_dir: Path, sample: str, expect: str
) -> None:
    root = build.kaggle()
    _sample(root, sample)
    with pytest.raises(ToolkitError) as err:
        load_competition(root)
    message = _one_line(err)
    assert "sample_submission.csv" in message and expect in message
    assert not any(p.is_file() for p in cache_dir.rglob("*"))  # nothing cached


def test_a_sample_that_is_not_csv_is_one_line(build: Build) -> None:
    root = build.kaggle()
    _sample(root, 'id,label\n10,"cat\n')  # unterminated quote: what tk submit would trip on
    with pytest.raises(ToolkitError, match=r"sample_submission\.csv"):
        load_competition(root)


def test_an_id_typed_as_a_number_keeps_the_samples_text(build: Build) -> None:
    root = build.kaggle(n_test=2)  # test ids 8 and 7
    (root / "test" / "8.png").rename(root / "test" / "-0.png")
    _sample(root, "id,label\n-0,cat\n7,cat\n")
    (root / "test_labels.csv").unlink()
    comp = load_competition(root)
    assert [str(t) for t in comp.test_ids] == ["-0", "7"]  # what the submission writes


def test_an_npz_beside_a_sample_of_other_ids_fails_at_load(build: Build) -> None:
    rng = np.random.default_rng(0)
    root = build.npz(
        x_train=rng.integers(0, 256, (6, 4, 4), dtype=np.uint8),
        y_train=np.array([0, 1, 0, 1, 0, 1]),
        x_test=rng.integers(0, 256, (2, 4, 4), dtype=np.uint8),
    )
    _sample(root, "id,label\n0,0\n1,0\n")
    assert [str(t) for t in load_competition(root).test_ids] == ["0", "1"]
    _sample(root, "id,label\na,0\nb,0\n")
    with pytest.raises(ToolkitError, match=r"not test ids: a, b"):
        load_competition(root)


def test_kaggle_ids_match_files_named_in_another_normalisation(build: Build) -> None:
    """train.csv and the sample in NFC, the files on disk in NFD (as macOS writes them)."""
    root = build.kaggle(n_test=2)  # train 1..6, test 8, 7
    (root / "train" / "1.png").rename(root / "train" / f"{NFD}.png")
    (root / "test" / "8.png").rename(root / "test" / f"{NFD}-test.png")
    (root / "train.csv").write_text(
        (root / "train.csv").read_text().replace("\n1,", f"\n{NFC},", 1), encoding="utf-8"
    )
    _sample(root, f"id,label\n{NFC}-test,cat\n7,cat\n")
    (root / "test_labels.csv").unlink()
    comp = load_competition(root)
    assert comp.test_ids == (f"{NFC}-test", "7")  # written as the sample spells it
    assert len(comp.x_train) == 6


def test_folder_ids_match_a_sample_in_another_normalisation(build: Build) -> None:
    root = build.folder(n_test=2)  # test/img0.png, test/img1.png
    (root / "test" / "img0.png").rename(root / "test" / f"{NFD}.png")
    _sample(root, f"id,label\nimg1,ants\n{NFC},ants\n")
    comp = load_competition(root)
    assert comp.test_ids == ("img1", NFC)


def test_two_files_equal_up_to_normalisation_are_one_id_too_many(build: Build) -> None:
    root = build.kaggle(n_test=2)
    (root / "test" / "8.png").rename(root / "test" / f"{NFD}.png")
    (root / "test" / "7.png").rename(root / "test" / f"{NFC}.png")
    _sample(root, f"id,label\n{NFC},cat\n")
    (root / "test_labels.csv").unlink()
    with pytest.raises(ToolkitError, match="differ only in Unicode normalisation"):
        load_competition(root)
