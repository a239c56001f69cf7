"""make_submission end to end on tiny digits runs: files, order, provenance, safety, ensembles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests._runs import tiny_run
from toolkit.data import Competition
from toolkit.errors import ToolkitError
from toolkit.runs.checkpoint import file_sha256
from toolkit.submit import (
    TTA,
    TTARequest,
    make_submission,
    score_submission,
    validate_submission,
)
from toolkit.submit import paths as paths_mod
from toolkit.train.model import load_model


def sample_ids(digits_dir: Path) -> list[str]:
    return pd.read_csv(digits_dir / "sample_submission.csv", dtype=str, keep_default_na=False)[
        "id"
    ].tolist()


def test_a_run_becomes_a_valid_csv_in_sample_order(
    trained: list[Path], digits: Competition, digits_dir: Path, submissions: Path
) -> None:
    result = make_submission(str(trained[0]))
    assert result.csv_path.parent == submissions / "digits"
    short = trained[0].name.split("-", 2)[2]  # the run id without its timestamp
    assert result.csv_path.name.endswith(f"-{short}.csv")
    validate_submission(result.csv_path, digits)
    back = pd.read_csv(result.csv_path, dtype=str, keep_default_na=False)
    assert list(back.columns) == ["id", "label"]
    assert back["id"].tolist() == sample_ids(digits_dir)
    assert set(back["label"]) <= {str(c) for c in digits.classes}
    probs = load_model(str(trained[0])).predict_probs(digits.x_test)  # (M, K)
    assert back["label"].tolist() == [str(digits.classes[i]) for i in probs.argmax(1)]
    files = {p.name for p in result.csv_path.parent.iterdir()}
    assert files == {result.csv_path.name, result.json_path.name}  # no temporary files left


def test_provenance_records_hashes_that_match_the_files(
    trained: list[Path], digits: Competition, digits_dir: Path
) -> None:
    result = make_submission(str(trained[0]), digits_dir, slug="my-comp")
    prov = json.loads(result.json_path.read_text())
    assert prov == result.provenance
    assert prov["csv"]["sha256"] == file_sha256(result.csv_path)
    assert prov["csv"]["rows"] == len(digits.test_ids)
    run = prov["runs"][0]
    assert run["checkpoint_sha256"] == file_sha256(trained[0] / "checkpoint.safetensors")
    record = json.loads((trained[0] / "run.json").read_text())
    assert run["run_id"] == record["id"] and run["config"] == record["config"]
    assert run["val_acc"] == record["metrics"]["val_acc"]
    # The submission's own validation score: the same model on the same split (the run
    # record rounds to 5 places, the provenance to 6).
    assert prov["validation_score"] == pytest.approx(run["val_acc"], abs=1e-5)
    assert prov["data_fingerprint"] == digits.fingerprint == run["data_fingerprint"]
    assert prov["competition_path"] == str(digits_dir)
    assert prov["study"] is None and prov["top_k"] == 1 and prov["tta"] is None
    assert set(prov["versions"]) == {"toolkit-ic", "torch", "numpy", "pandas", "timm", "optuna"}
    assert prov["versions"]["numpy"] == np.__version__
    assert prov["git"] is None or set(prov["git"]) == {"commit", "dirty"}
    assert prov["local_test_score"] == pytest.approx(score_submission(result.csv_path), abs=1e-6)
    assert prov["kaggle_command"].startswith("kaggle competitions submit -c my-comp -f ")
    assert str(result.csv_path) in prov["kaggle_command"] and " -m " in prov["kaggle_command"]
    assert prov["created"] and prov["warnings"] == []


def test_existing_files_are_never_overwritten(
    trained: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = paths_mod.submission_paths
    monkeypatch.setattr(paths_mod, "submission_paths", lambda c, n, r=None: real(c, n, r, now=1e9))
    first = make_submission(str(trained[0]), name="same")
    before = first.csv_path.read_bytes(), first.json_path.read_bytes()
    with pytest.raises(ToolkitError, match="already exists"):
        make_submission(str(trained[1]), name="same")
    assert (first.csv_path.read_bytes(), first.json_path.read_bytes()) == before


def test_a_hostile_name_stays_in_the_submissions_folder(
    trained: list[Path], submissions: Path
) -> None:
    for name, safe in (("../../etc/x", "etc-x"), ("/etc/y", "etc-y")):
        result = make_submission(str(trained[0]), name=name)
        assert result.csv_path.resolve().is_relative_to(submissions.resolve())
        assert result.csv_path.name.endswith(f"-{safe}.csv")
        assert result.csv_path.parent == submissions / "digits"
    with pytest.raises(ToolkitError, match="no usable characters"):
        make_submission(str(trained[0]), name="../..")


def test_top_k_averages_probabilities(trained: list[Path], digits: Competition) -> None:
    result = make_submission([str(p) for p in trained], name="ens")
    mean = sum(load_model(str(p)).predict_probs(digits.x_test) for p in trained) / 2  # (M, K)
    back = pd.read_csv(result.csv_path, dtype=str, keep_default_na=False)
    assert back["label"].tolist() == [str(digits.classes[i]) for i in mean.argmax(1)]
    prov = result.provenance
    assert prov["top_k"] == 2 and len(prov["runs"]) == 2
    # The validation score is the ensemble's own, on the split the runs held out.
    from toolkit.data import split_validation

    cfg = prov["runs"][0]["config"]
    _, va = split_validation(
        np.asarray(digits.y_train), cfg["val_fraction"], cfg["seed"], names=list(digits.classes)
    )
    val_mean = sum(load_model(str(p)).predict_probs(digits.x_train[va]) for p in trained) / 2
    ensemble = float(np.mean(val_mean.argmax(1) == np.asarray(digits.y_train)[va]))
    assert prov["validation_score"] == pytest.approx(ensemble, abs=1e-6)
    assert prov["metric"] == "accuracy" and prov["submission"]["kind"] == "label"


def test_a_run_submits_with_the_tta_it_validated_with(
    digits: Competition, session_env: dict[str, Path]
) -> None:
    """tta = true with flips: the submission flips too, and scores what the run reported."""
    run = tiny_run(digits, flip=True, tta=True)
    result = make_submission(str(run), name="own-tta")
    prov = result.provenance
    assert prov["tta"] == {"flip": True, "shift": 0, "views": 2}
    assert prov["runs"][0]["tta"] == prov["tta"]
    record = json.loads((run / "run.json").read_text())
    assert prov["validation_score"] == pytest.approx(record["metrics"]["val_acc"], abs=1e-5)
    probs = load_model(str(run)).predict_probs(digits.x_test, tta=TTA(flip=True))
    back = pd.read_csv(result.csv_path, dtype=str, keep_default_na=False)
    assert back["label"].tolist() == [str(digits.classes[i]) for i in probs.argmax(1)]
    off = make_submission(str(run), tta=TTARequest(enabled=False), name="off")
    assert off.provenance["tta"] is None


def test_tta_never_uses_a_view_the_run_did_not_train_on(
    trained: list[Path], digits: Competition, session_env: dict[str, Path]
) -> None:
    # trained[0]: flip = false, no crops. --tta has nothing it may add; a flip is refused.
    plain = make_submission(str(trained[0]), tta=TTARequest(enabled=True), name="t")
    assert plain.provenance["tta"] is None
    with pytest.raises(ToolkitError, match="trained without flips"):
        make_submission(str(trained[0]), tta=TTARequest(flip=True))
    cropped = tiny_run(digits, flip=True, crop_pad=2)
    result = make_submission(str(cropped), tta=TTARequest(enabled=True), name="tta")
    assert result.provenance["tta"] == {"flip": True, "shift": 1, "views": 3}
    validate_submission(result.csv_path, digits)
    both = [str(trained[0]), str(cropped)]
    mixed = make_submission(both, tta=TTARequest(enabled=True), name="mixed")
    assert mixed.provenance["tta"] == [None, {"flip": True, "shift": 1, "views": 3}]


def copy_run(src: Path, dst: Path, **changes: object) -> Path:
    """A copy of a run folder with run.json or checkpoint.json fields changed."""
    shutil.copytree(src, dst)
    for file, fields in changes.items():
        path = dst / f"{file}.json"
        data = json.loads(path.read_text())
        data.update(fields)  # type: ignore[arg-type]
        path.write_text(json.dumps(data))
    return dst


def test_other_classes_are_refused_before_anything_is_written(
    trained: list[Path], tmp_path: Path, submissions: Path
) -> None:
    for i, classes in enumerate(([0, 1], [str(c) for c in range(10)], list(range(9, -1, -1)))):
        run = copy_run(trained[0], tmp_path / f"run{i}", checkpoint={"classes": classes})
        with pytest.raises(ToolkitError, match="classes"):
            make_submission(str(run))
        with pytest.raises(ToolkitError, match="classes"):
            make_submission([str(trained[0]), str(run)])
    assert not submissions.exists()


def test_a_changed_fingerprint_only_warns(
    trained: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy_run(trained[0], tmp_path / "run", run={"data_fingerprint": "f" * 64})
    result = make_submission(str(run))
    assert "warning:" in capsys.readouterr().err
    assert result.csv_path.is_file() and len(result.provenance["warnings"]) == 1


def test_a_missing_competition_folder_asks_for_one(trained: list[Path], tmp_path: Path) -> None:
    run = copy_run(trained[0], tmp_path / "run", run={"competition_path": str(tmp_path / "gone")})
    with pytest.raises(ToolkitError, match="--competition"):
        make_submission(str(run))


def test_probability_submissions_are_calibrated_on_the_validation_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.data import load_competition, make_example
    from toolkit.submit.calibrate import apply_temperature
    from toolkit.train import TrainConfig, train

    monkeypatch.setenv("TOOLKIT_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("TOOLKIT_SUBMISSIONS", str(tmp_path / "subs"))
    folder = make_example(
        "photos", tmp_path / "photos", submission="class-probabilities", n_images=700
    )
    comp = load_competition(folder)
    config = TrainConfig(encoder="pixels", loss="softmax-ce", head="linear-probe", head_epochs=5)
    run = train(config, comp, quiet=True)
    assert run.path is not None
    result = make_submission(str(run.path))
    cal = result.provenance["calibration"]
    assert cal["temperature"] > 0 and cal["val_log_loss_after"] <= cal["val_log_loss_before"]
    written = pd.read_csv(result.csv_path).set_index("id")
    raw = load_model(str(run.path)).predict_probs(comp.x_test)  # (M, K), uncalibrated
    expected = apply_temperature(np.asarray(raw, dtype=np.float64), cal["temperature"])
    columns = [str(c) for c in comp.classes]
    got = written.loc[[str(i) for i in comp.test_ids], columns].to_numpy()
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-6)
    if abs(cal["temperature"] - 1) > 0.05:  # the temperature changed what was written
        assert not np.allclose(got, raw, rtol=1e-3, atol=1e-4)


def test_scoring_by_another_metric_keeps_the_leaderboard_score(trained: list[Path]) -> None:
    result = make_submission(str(trained[0]), name="other-metric")
    before = json.loads(result.json_path.read_text())["local_test_score"]
    f1 = score_submission(result.csv_path, metric="f1_macro")
    prov = json.loads(result.json_path.read_text())
    assert prov["local_test_score"] == before and prov["local_test_metric"] == "accuracy"
    assert prov["other_scores"] == {"f1_macro": pytest.approx(float(f1), abs=1e-6)}
