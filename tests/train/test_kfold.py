"""k-fold cross-validation (``tk train --folds K``): folds, out-of-fold record, submission."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests._cli import run_main
from tests._runs import TINY
from toolkit.data import Competition, split_folds, split_validation
from toolkit.errors import ToolkitError
from toolkit.train import TrainConfig
from toolkit.train.kfold import train_folds


def test_folds_are_stratified_seeded_and_cover_each_image_once() -> None:
    y = np.repeat(np.arange(3), [10, 20, 30])
    folds = split_folds(y, 5, seed=1)
    assert folds.shape == y.shape and set(folds.tolist()) == set(range(5))
    for k in range(5):  # each class spread evenly: 2, 4 and 6 images per fold
        assert np.bincount(y[folds == k], minlength=3).tolist() == [2, 4, 6]
    assert np.array_equal(folds, split_folds(y, 5, seed=1))
    assert not np.array_equal(folds, split_folds(y, 5, seed=2))
    train, val = split_validation(y, 0.5, seed=1, folds=5, fold=3)
    assert np.array_equal(val, np.flatnonzero(folds == 3))  # val_fraction is not used
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(len(y)))


def test_a_class_smaller_than_the_folds_is_refused_by_name() -> None:
    y = np.array([0] * 10 + [1] * 3)
    with pytest.raises(ToolkitError, match="classes b have fewer than 5 images"):
        split_folds(y, 5, names=["a", "b"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"folds": 1}, "folds must be 0"),
        ({"folds": 3, "fold": 3}, "fold must be in 0..2"),
        ({"fold": 1}, "fold must be in 0..0"),
    ],
)
def test_fold_settings_are_checked(settings: dict[str, int], message: str) -> None:
    from toolkit.train.config import validate

    with pytest.raises(ToolkitError, match=message):
        validate(TrainConfig(**settings))


@pytest.fixture(scope="module")
def cv_run(digits: Competition, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-fold cross-validation of the tiny pixels probe on digits."""
    root = tmp_path_factory.mktemp("runs")
    result = train_folds(
        TrainConfig(**{**TINY, "folds": 3, "seed": 4}), digits, runs_root=root, quiet=True
    )
    assert result.status == "completed" and result.path is not None
    return Path(result.path)


def test_out_of_fold_predictions_cover_every_training_image_exactly_once(
    cv_run: Path, digits: Competition
) -> None:
    record = json.loads((cv_run / "run.json").read_text())
    assert record["kind"] == "cv" and [f["fold"] for f in record["folds"]] == [0, 1, 2]
    assignment = split_folds(digits.y_train, 3, seed=4)
    oof = np.load(cv_run / "oof_probs.npy")
    assert oof.shape == (len(digits.y_train), digits.num_classes)
    assert np.isfinite(oof).all() and np.allclose(oof.sum(1), 1, atol=1e-4)
    seen = np.zeros(len(digits.y_train), dtype=int)
    for entry in record["folds"]:
        fold_dir = cv_run / entry["id"]
        fold_record = json.loads((fold_dir / "run.json").read_text())
        assert fold_record["config"]["fold"] == entry["fold"]
        assert fold_record["cv"] == {"id": cv_run.name, "fold": entry["fold"], "folds": 3}
        rows = np.flatnonzero(assignment == entry["fold"])
        seen[rows] += 1
        # each row is the prediction of the one model that validated on it
        assert np.allclose(oof[rows], np.load(fold_dir / "val_probs.npy"), atol=1e-6)
        labels = np.load(fold_dir / "val_labels.npy")
        assert np.array_equal(labels, digits.y_train[rows])
    assert (seen == 1).all()
    with (cv_run / "oof.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert [int(r["row"]) for r in table] == list(range(len(digits.y_train)))
    assert [int(r["fold"]) for r in table] == assignment.tolist()
    assert float(table[5][str(digits.classes[0])]) == pytest.approx(oof[5, 0], abs=1e-5)
    # the id column comes first and names each row by train.csv's id, in its order
    with (cv_run / "oof.csv").open() as fh:
        assert next(csv.reader(fh))[:2] == ["id", "row"]
    with (digits.root / "train.csv").open() as fh:
        listed = [r[0] for r in list(csv.reader(fh))[1:]]
    assert len(digits.train_ids) == len(digits.y_train)
    assert [r["id"] for r in table] == [str(i) for i in digits.train_ids] == listed


def test_the_run_reports_mean_and_std_over_folds_and_the_fold_average(
    cv_run: Path, digits: Competition
) -> None:
    record = json.loads((cv_run / "run.json").read_text())
    m = record["metrics"]
    scores = [f["val_score"] for f in record["folds"]]
    assert m["fold_scores"] == scores
    assert m["val_score"] == pytest.approx(np.mean(scores), abs=1e-6)
    assert m["val_score_std"] == pytest.approx(np.std(scores, ddof=1), abs=1e-6)
    oof = np.load(cv_run / "oof_probs.npy")
    assert m["oof_score"] == pytest.approx((oof.argmax(1) == digits.y_train).mean(), abs=1e-5)
    tests = [np.load(cv_run / f["id"] / "test_probs.npy") for f in record["folds"]]
    mean = np.load(cv_run / "test_probs.npy")
    assert np.allclose(mean, np.mean(tests, axis=0), atol=1e-6)
    assert m["test_acc"] == pytest.approx((mean.argmax(1) == digits.y_test).mean(), abs=1e-5)


def test_submitting_a_cross_validation_averages_its_folds(
    cv_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.submit import make_submission

    result = make_submission(str(cv_run), root=tmp_path / "subs", device="cpu")
    prov = result.provenance
    assert prov["cross_validations"] == [cv_run.name] and len(prov["runs"]) == 3
    assert [r["cv"]["fold"] for r in prov["runs"]] == [0, 1, 2]
    assert "-cv3" in result.csv_path.name
    # validation = the out-of-fold predictions, so the submission's score is the OOF score
    record = json.loads((cv_run / "run.json").read_text())
    assert prov["validation_score"] == pytest.approx(record["metrics"]["oof_score"], abs=1e-4)
    assert prov["local_test_score"] == pytest.approx(record["metrics"]["test_score"], abs=1e-4)


def test_tk_train_folds_and_tk_runs_show_one_row(
    digits_dir: Path, runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sets = [f"--set={k}={v}" for k, v in TINY.items() if k not in ("encoder", "loss", "head")]
    code, out, err = run_main(
        capsys, "train", str(digits_dir), "--encoder", "pixels", "--head", "linear-probe",
        "--folds", "2", *sets, "--json",
    )  # fmt: skip
    assert code == 0, err
    shown = json.loads(out)
    assert len(shown["fold_scores"]) == 2 and "val_score_std" in shown
    code, out, err = run_main(capsys, "runs", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["id"] for r in rows] == [shown["run_id"]]  # folds live inside
    assert rows[0]["val_interval"] is not None  # bootstrap over the out-of-fold predictions
    code, out, err = run_main(capsys, "refit", shown["run_id"], "--json")
    assert code == 0, err
    refit = json.loads((Path(json.loads(out)["path"]) / "run.json").read_text())
    assert refit["refit_of"] == shown["run_id"]
    assert (refit["config"]["folds"], refit["config"]["val_fraction"]) == (0, 0.0)


def test_a_budget_is_shared_by_the_folds(digits: Competition, tmp_path: Path) -> None:
    cfg = TrainConfig(**{**TINY, "folds": 2, "budget": 30.0})
    result = train_folds(cfg, digits, runs_root=tmp_path, quiet=True)
    record = json.loads((Path(str(result.path)) / "run.json").read_text())
    budgets = [
        json.loads((Path(str(result.path)) / f["id"] / "run.json").read_text())["config"]["budget"]
        for f in record["folds"]
    ]
    assert budgets[0] == pytest.approx(15.0, abs=0.5)  # half of it for each of two
    assert budgets[1] <= 15.0 and sum(budgets) <= 30.0  # a fold ending early gives nothing


def test_a_cross_validation_is_a_pseudo_label_source(cv_run: Path, digits: Competition) -> None:
    from toolkit.train.pseudo import pseudo_labels

    cfg = TrainConfig(**{**TINY, "pseudo_labels": str(cv_run), "pseudo_threshold": 0.6})
    found = pseudo_labels(cfg, digits)
    assert found is not None
    mean = np.load(cv_run / "test_probs.npy")  # the folds' average
    rows = np.flatnonzero(mean.max(1) >= 0.6)
    assert np.array_equal(found.index, rows) and np.array_equal(found.y, mean[rows].argmax(1))


def test_tk_predict_averages_the_folds(cv_run: Path, tmp_path: Path, digits: Competition) -> None:
    from PIL import Image

    from toolkit.submit.folder_predict import predict_folder
    from toolkit.submit.predict import predict_members, read_members

    folder = tmp_path / "new"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.ascontiguousarray(digits.x_test[i, 0])).save(folder / f"{i}.png")
    found = predict_folder(str(cv_run), folder, device="cpu")
    assert found.run_id == cv_run.name and found.probs.shape == (4, digits.num_classes)
    members = read_members([str(cv_run)])
    assert len(members) == 3
    expected = predict_members(members, np.ascontiguousarray(digits.x_test[:4]), None, "cpu")
    assert np.allclose(found.probs, expected, atol=1e-5)  # PNG is lossless: the same pixels
