"""Training on every image (val_fraction = 0) and ``tk refit`` of a finished run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests._cli import run_main
from toolkit.data import Competition
from toolkit.errors import ToolkitError
from toolkit.train import TrainConfig, train
from toolkit.train.refit import refit_config

FAST = {"encoder": "fastnet", "optimizer": "sgd", "lr": 0.05, "batch_size": 128}


def _record(**config: object) -> dict[str, object]:
    return {"id": "r1", "status": "completed", "config": TrainConfig(**config).to_dict()}


def test_refit_config_keeps_the_settings_and_each_stages_steps() -> None:
    rows = [
        {"stage": "encoder", "step": "7"},
        {"stage": "encoder", "step": "14"},
        {"stage": "head", "step": "30"},
    ]
    cfg = refit_config(_record(loss="supcon", head="linear-probe", lr=0.3, budget=60.0), rows)
    assert (cfg.val_fraction, cfg.budget, cfg.early_stopping) == (0.0, 0.0, "none")
    assert (cfg.iterations, cfg.head_iterations, cfg.lr, cfg.loss) == (14, 30, 0.3, "supcon")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "r1", "status": "failed", "config": {}}, "refit a completed run"),
        (_record(val_fraction=0.0), "already trained on every image"),
        (_record(), "no metrics rows"),
    ],
)
def test_refit_config_refuses(record: dict[str, object], message: str) -> None:
    with pytest.raises(ToolkitError, match=message):
        refit_config(record, [])


def test_a_run_without_validation_trains_on_every_image(
    digits: Competition, runs_dir: Path
) -> None:
    result = train(TrainConfig(val_fraction=0.0, epochs=2, **FAST), digits, quiet=True)
    record = json.loads((result.path / "run.json").read_text())
    assert record["status"] == "completed"
    assert record["split_sizes"] == {"train": len(digits.y_train), "val": 0}
    assert result.metrics["val_acc"] is None and result.metrics["val_score"] is None
    assert result.metrics["test_acc"] is not None and result.metrics["test_acc"] > 0.1
    with (result.path / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(row["score"] == "" for row in rows)  # nothing to score: last weights


def test_early_stopping_without_validation_is_refused(digits: Competition, runs_dir: Path) -> None:
    cfg = TrainConfig(val_fraction=0.0, early_stopping="patience", **FAST)
    with pytest.raises(ToolkitError, match="early stopping needs a validation split"):
        train(cfg, digits, quiet=True)
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_tk_refit_trains_the_same_steps_on_every_image_and_submits(
    digits_dir: Path,
    runs_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    sets = [f"--set={k}={v}" for k, v in FAST.items() if k != "encoder"] + ["--set=epochs=2"]
    code, out, err = run_main(capsys, "train", str(digits_dir), "-q", "--json", *sets)
    assert code == 0, err
    source = json.loads(out)
    code, out, err = run_main(capsys, "refit", source["run_id"][-4:], "-q", "--json")
    assert code == 0, err
    refit = json.loads(out)
    old = json.loads((Path(source["path"]) / "run.json").read_text())
    new = json.loads((Path(refit["path"]) / "run.json").read_text())
    assert new["refit_of"] == source["run_id"]
    assert new["steps"] == old["steps"]
    assert new["split_sizes"]["train"] == old["split_sizes"]["train"] + old["split_sizes"]["val"]
    assert new["config"]["val_fraction"] == 0.0 and refit["val_acc"] is None
    code, out, err = run_main(capsys, "submit", "--run", refit["run_id"], "-q", "--json")
    assert code == 0, err
    runs = json.loads(Path(json.loads(out)["json_path"]).read_text())["runs"]
    assert runs[0]["refit_of"] == source["run_id"]


def test_tk_refit_of_a_study_refits_its_best_trial(
    digits_dir: Path, runs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from tests.tune.conftest import write_study
    from toolkit.tune import load_spec, top_runs, tune

    monkeypatch.setenv("TOOLKIT_STUDIES", str(tmp_path / "studies"))
    tune(load_spec(write_study(tmp_path, name="refitme", trials=2, epochs=2)), str(digits_dir))
    best = Path(top_runs("refitme", None, 1)[0]).name
    code, out, err = run_main(capsys, "refit", "refitme", "--quiet", "--json")
    assert code == 0, err
    record = json.loads((Path(json.loads(out)["path"]) / "run.json").read_text())
    assert record["refit_of"] == best and record["config"]["val_fraction"] == 0.0
