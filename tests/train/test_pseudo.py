"""Pseudo-labelling: confident test predictions of a run or a submission join the train split."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._runs import tiny_run
from toolkit.data import Competition, load_competition
from toolkit.errors import ToolkitError
from toolkit.train.config import TrainConfig
from toolkit.train.parts import load_splits
from toolkit.train.plan import train_split_size
from toolkit.train.pseudo import pseudo_labels

CPU = torch.device("cpu")
SURE = 0.95  # top probability of the rows the crafted source is sure of (the rest: 0.3)


def _crafted(m: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (m, k), the rows at SURE): about 40% of rows peaked, the rest flat-ish."""
    rng = np.random.default_rng(seed)
    sure = rng.random(m) < 0.4
    top = rng.integers(0, k, m)
    rest = np.where(sure, (1 - SURE) / (k - 1), 0.7 / (k - 1))  # (m,) each other class
    probs = np.repeat(rest[:, None], k, axis=1).astype(np.float32)  # (m, k)
    probs[np.arange(m), top] = np.where(sure, SURE, 0.3)
    return probs, np.flatnonzero(sure)


@pytest.fixture(scope="module")
def source(
    digits: Competition, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, np.ndarray, np.ndarray]:
    """A finished run on digits whose test_probs.npy is replaced by crafted probabilities:
    (its folder, the probabilities, the rows at SURE)."""
    path = tiny_run(digits, runs_root=tmp_path_factory.mktemp("runs"))
    probs, sure = _crafted(len(digits.test_ids), digits.num_classes)
    np.save(path / "test_probs.npy", probs)
    return path, probs, sure


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_a_run_source_keeps_its_confident_test_images_with_their_argmax(
    source: tuple[Path, np.ndarray, np.ndarray], digits: Competition
) -> None:
    path, probs, sure = source
    pl = pseudo_labels(TrainConfig(pseudo_labels=str(path), pseudo_threshold=0.9), digits)
    assert pl is not None and 0 < len(sure) < len(probs)
    np.testing.assert_array_equal(pl.index, sure)
    np.testing.assert_array_equal(pl.y, probs.argmax(1)[sure])
    np.testing.assert_array_equal(pl.x, digits.x_test[sure])
    record = pl.record()
    counts = np.bincount(probs.argmax(1)[sure], minlength=10)
    assert record == {
        "source": path.name,
        "kind": "run",
        "path": str(path.resolve()),
        "threshold": 0.9,
        "images": len(sure),
        "of": len(digits.test_ids),
        "per_class": {str(c): int(n) for c, n in zip(digits.classes, counts, strict=True)},
    }
    assert pseudo_labels(TrainConfig(), digits) is None  # not asked for


def test_a_run_is_found_by_its_id_and_short_id(
    source: tuple[Path, np.ndarray, np.ndarray],
    digits: Competition,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _, sure = source
    monkeypatch.setenv("TOOLKIT_RUNS", str(path.parent))
    for token in (path.name, path.name.rpartition("-")[2]):
        pl = pseudo_labels(TrainConfig(pseudo_labels=token), digits)
        assert pl is not None and pl.source == path.name
        np.testing.assert_array_equal(pl.index, sure)


def test_pseudo_labels_join_the_train_split_only(
    source: tuple[Path, np.ndarray, np.ndarray], digits: Competition
) -> None:
    path, probs, sure = source
    plain = load_splits(TrainConfig(), digits, CPU)
    cfg = TrainConfig(pseudo_labels=str(path), pseudo_threshold=0.9)
    mixed = load_splits(cfg, digits, CPU)
    assert torch.equal(mixed.x_val, plain.x_val) and torch.equal(mixed.y_val, plain.y_val)
    n = len(plain.y_train)
    assert len(mixed.y_train) == n + len(sure)
    assert torch.equal(mixed.x_train[:n], plain.x_train)
    assert torch.equal(mixed.y_train[:n], plain.y_train)
    assert torch.equal(mixed.x_train[n:], torch.from_numpy(digits.x_test[sure]))
    assert mixed.y_train[n:].tolist() == probs.argmax(1)[sure].tolist()
    assert mixed.pseudo_labels is not None and mixed.pseudo_labels["images"] == len(sure)
    assert plain.pseudo_labels is None
    assert train_split_size(cfg, digits)[0] == len(mixed.y_train)  # the plan counts them


def test_a_threshold_no_soft_probability_reaches_keeps_nothing(
    source: tuple[Path, np.ndarray, np.ndarray], digits: Competition
) -> None:
    path, _, _ = source
    plain = load_splits(TrainConfig(), digits, CPU)
    cfg = TrainConfig(pseudo_labels=str(path), pseudo_threshold=1.0)
    splits = load_splits(cfg, digits, CPU)
    assert torch.equal(splits.x_train, plain.x_train)
    assert splits.pseudo_labels is not None and splits.pseudo_labels["images"] == 0
    assert sum(splits.pseudo_labels["per_class"].values()) == 0


def test_a_run_with_pseudo_labels_records_them_and_validates_on_the_same_images(
    source: tuple[Path, np.ndarray, np.ndarray], digits: Competition, tmp_path: Path
) -> None:
    path, _, sure = source
    new = tiny_run(digits, runs_root=tmp_path, pseudo_labels=str(path), pseudo_threshold=0.9)
    record = json.loads((new / "run.json").read_text())
    before = json.loads((path / "run.json").read_text())
    assert record["pseudo_labels"]["source"] == path.name
    assert record["pseudo_labels"]["threshold"] == 0.9
    assert record["pseudo_labels"]["images"] == len(sure)
    assert record["split_sizes"]["train"] == before["split_sizes"]["train"] + len(sure)
    assert record["split_sizes"]["val"] == before["split_sizes"]["val"]
    np.testing.assert_array_equal(
        np.load(new / "val_labels.npy"), np.load(path / "val_labels.npy")
    )
    assert "pseudo_labels" not in before


def test_a_label_submission_keeps_every_row_and_renumbers_a_class_subset(
    digits: Competition, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, len(digits.test_ids))
    rows = [[t, digits.classes[y]] for t, y in zip(digits.test_ids, labels, strict=True)]
    order = rng.permutation(len(rows))  # rows are matched by id, not by position
    sub = _write(tmp_path / "sub.csv", ["id", "label"], [rows[i] for i in order])
    pl = pseudo_labels(TrainConfig(pseudo_labels=str(sub), pseudo_threshold=1.0), digits)
    assert pl is not None and pl.kind == "submission" and pl.source == str(sub.resolve())
    np.testing.assert_array_equal(pl.index, np.arange(len(labels)))  # confidence 1: all
    np.testing.assert_array_equal(pl.y, labels)
    subset = TrainConfig(pseudo_labels=str(sub), classes=("3", "1"))
    pl = pseudo_labels(subset, digits)
    assert pl is not None
    np.testing.assert_array_equal(pl.index, np.flatnonzero(np.isin(labels, [3, 1])))
    np.testing.assert_array_equal(pl.y, np.where(labels[pl.index] == 3, 0, 1))  # 3 -> 0, 1 -> 1
    assert pl.record()["per_class"] == {
        "3": int((labels == 3).sum()),
        "1": int((labels == 1).sum()),
    }


def test_a_top_k_submission_gives_its_first_label(digits: Competition, tmp_path: Path) -> None:
    ids = list(digits.test_ids)
    sub = _write(tmp_path / "top.csv", ["id", "label"], [[t, "7 1 2"] for t in ids])
    cfg = TrainConfig(pseudo_labels=str(sub), submission_kind="top-k", submission_k=3)
    pl = pseudo_labels(cfg, digits)
    assert pl is not None and len(pl.y) == len(ids) and set(pl.y.tolist()) == {7}


def test_a_class_probabilities_submission_is_read_by_column_name(
    digits: Competition, tmp_path: Path
) -> None:
    probs, sure = _crafted(len(digits.test_ids), 10, seed=2)
    names = [str(c) for c in digits.classes][::-1]  # columns in another order than the classes
    rows = [
        [t, *(f"{p[int(c)]:.6f}" for c in names)]
        for t, p in zip(digits.test_ids, probs, strict=True)
    ]
    sub = _write(tmp_path / "probs.csv", ["id", *names], rows)
    pl = pseudo_labels(TrainConfig(pseudo_labels=str(sub), pseudo_threshold=0.9), digits)
    assert pl is not None
    np.testing.assert_array_equal(pl.index, sure)
    np.testing.assert_array_equal(pl.y, probs.argmax(1)[sure])


def _binary(folder: Path, seed: int = 0) -> Path:
    """A tiny two-class npz competition (no sample submission): 8x8 grey images."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    path = folder / "tiny.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (40, 8, 8), dtype=np.uint8),
        y_train=np.arange(40) % 2,
        x_test=rng.integers(0, 256, (6, 8, 8), dtype=np.uint8),
    )
    return path


def test_a_probability_submission_is_read_as_the_positive_class(
    tmp_path: Path, runs_dir: Path
) -> None:
    comp = load_competition(_binary(tmp_path / "bin"))
    p = [0.95, 0.05, 0.5, 0.92, 0.2, 0.99]
    sub = _write(
        tmp_path / "p.csv",
        ["id", "label"],
        [[t, q] for t, q in zip(comp.test_ids, p, strict=True)],
    )
    cfg = TrainConfig(pseudo_labels=str(sub), submission_kind="probability")
    pl = pseudo_labels(cfg, comp)  # threshold 0.9: p >= 0.9 (class 1) or p <= 0.1 (class 0)
    assert pl is not None
    assert pl.index.tolist() == [0, 1, 3, 5] and pl.y.tolist() == [1, 0, 1, 1]


def test_a_source_run_at_another_image_size_is_checked_at_its_size(
    tmp_path: Path, runs_dir: Path
) -> None:
    path = _binary(tmp_path / "bin")
    native, large = load_competition(path), load_competition(path, image_size=16)
    assert native.fingerprint != large.fingerprint  # the fingerprint covers the image size
    src = tiny_run(large, image_size=16)
    pl = pseudo_labels(TrainConfig(pseudo_labels=str(src), pseudo_threshold=0.5), native)
    assert pl is not None and pl.of == 6 and pl.x.shape[1:] == (1, 8, 8)  # this run's size
    record = json.loads((src / "run.json").read_text())
    (src / "run.json").write_text(json.dumps({**record, "data_fingerprint": "0" * 64}))
    with pytest.raises(ToolkitError, match="trained on other data"):
        pseudo_labels(TrainConfig(pseudo_labels=str(src)), native)


def test_sources_that_do_not_fit_are_refused_with_what_to_do(
    source: tuple[Path, np.ndarray, np.ndarray], digits: Competition, tmp_path: Path
) -> None:
    path, _, _ = source

    def refused(needle: str, **settings: object) -> None:
        with pytest.raises(ToolkitError, match=needle):
            pseudo_labels(TrainConfig(**settings), digits)  # type: ignore[arg-type]

    refused("neither a run .* nor a submission CSV", pseudo_labels="nope")
    refused("no such submission CSV", pseudo_labels=str(tmp_path / "missing.csv"))
    refused("predicts 10 classes .* trains on 2", pseudo_labels=str(path), classes=("3", "1"))
    moved = shutil.copytree(path, tmp_path / "other")
    record = json.loads((moved / "run.json").read_text())
    (moved / "run.json").write_text(json.dumps({**record, "data_fingerprint": "0" * 64}))
    refused("trained on other data than digits", pseudo_labels=str(moved))
    (moved / "run.json").write_text(json.dumps(record))
    (moved / "test_probs.npy").unlink()
    refused("has no test_probs.npy", pseudo_labels=str(moved))
    ids = list(digits.test_ids)
    short = _write(tmp_path / "short.csv", ["id", "label"], [[t, 0] for t in ids[1:]])
    refused("does not predict this competition's test set", pseudo_labels=str(short))
    odd = _write(tmp_path / "odd.csv", ["id", "label"], [[t, "cat"] for t in ids])
    refused("line 2 holds 'cat' where a class", pseudo_labels=str(odd))
