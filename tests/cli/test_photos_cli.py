"""Photo competitions of every submission shape, end to end through the CLI as a user runs it.

Each competition is the bundled ``photos`` example (crops of scikit-learn's two real photos,
of many sizes, aspect ratios, formats and modes) with one of the four sample shapes. With no
flag beyond the folder, ``tk data check``, ``tk train``, ``tk submit``, ``tk submit validate``
and ``tk score`` must work, choose the image size, the shape and the metric from the data, and
a short real training must beat chance on the competition's own metric.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._cli import run_main as tk

# Chance on each shape's default metric: log loss of the uniform guess; MAP@3 of a random
# ranking of 4 classes ((1 + 1/2 + 1/3) / 4); accuracy of a uniform guess among 4 classes.
CHANCE = {
    "label": ("accuracy", 0.25),
    "probability": ("log_loss", math.log(2)),
    "class-probabilities": ("log_loss", math.log(4)),
    "top-k": ("map@3", (1 + 1 / 2 + 1 / 3) / 4),
}
TRAIN = ["--set", "epochs=8", "--set", "encoder.width=0.25", "--set", "batch_size=32"]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("photos-cli")
    with pytest.MonkeyPatch.context() as mp:
        for name, folder in [
            ("TOOLKIT_CACHE", "cache"),
            ("TOOLKIT_RUNS", "runs"),
            ("TOOLKIT_SUBMISSIONS", "subs"),
            ("TOOLKIT_STUDIES", "studies"),
        ]:
            mp.setenv(name, str(base / folder))
        mp.setenv("TOOLKIT_DEBUG", "0")
        yield base


def better(metric: str, value: float, chance: float) -> bool:
    return value < chance if metric == "log_loss" else value > chance


@pytest.mark.parametrize("kind", list(CHANCE))
def test_every_shape_trains_submits_and_scores_with_no_flags(
    kind: str, sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sandbox / f"photos-{kind}"
    code, out, err = tk(capsys, "data", "example", "photos", str(folder), "--submission", kind)
    assert code == 0, err

    code, out, err = tk(capsys, "data", "check", str(folder), "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["image_shape"][1:] == [64, 64]  # the photos' median side, capped at 64

    code, out, err = tk(capsys, "train", str(folder), "--quiet", "--json", *TRAIN)
    assert code == 0, err
    run = json.loads(out)
    metric, chance = CHANCE[kind]
    assert run["metric"] == metric
    assert better(metric, run["val_score"], chance), run
    assert better(metric, run["test_score"], chance), run

    code, out, err = tk(capsys, "submit", "--run", run["run_id"], "--json")
    assert code == 0, err
    prov = json.loads(out)
    assert prov["submission"]["kind"] == kind and prov["metric"] == metric
    csv_path = Path(prov["csv_path"])
    header = csv_path.read_text().splitlines()[0]
    sample = (folder / "sample_submission.csv").read_text().splitlines()[0]
    assert header == sample
    if kind in ("probability", "class-probabilities"):  # 19 validation images: too few
        assert "validation split has 19 images" in prov["calibration"]["skipped"]
    else:
        assert prov["calibration"] is None

    code, out, err = tk(capsys, "submit", "validate", str(csv_path))
    assert code == 0, err
    code, out, err = tk(capsys, "score", str(csv_path), "--json")
    assert code == 0, err
    scored = json.loads(out)
    assert scored["metric"] == metric
    assert better(metric, scored["score"], chance), scored
    assert scored["score"] == pytest.approx(prov["local_test_score"], abs=2e-3)


def test_a_metric_that_does_not_fit_the_shape_is_one_line_before_training(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sandbox / "photos-label-metric"
    assert tk(capsys, "data", "example", "photos", str(folder))[0] == 0
    runs_before = sorted((sandbox / "runs").glob("*")) if (sandbox / "runs").exists() else []
    code, _out, err = tk(capsys, "train", str(folder), "--metric", "log_loss", *TRAIN)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "log_loss" in err
    runs_after = sorted((sandbox / "runs").glob("*")) if (sandbox / "runs").exists() else []
    assert runs_after == runs_before  # no run folder left behind


def test_image_size_and_resize_settings_reach_the_run(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sandbox / "photos-sized"
    assert tk(capsys, "data", "example", "photos", str(folder))[0] == 0
    args = ["--set", "data.image_size=24", "--set", "data.resize=pad", "--set", "epochs=1"]
    code, out, err = tk(capsys, "train", str(folder), "--quiet", "--json", *args)
    assert code == 0, err
    record = json.loads((Path(json.loads(out)["path"]) / "run.json").read_text())
    assert record["image_policy"]["size"] == 24 and record["image_policy"]["resize"] == "pad"
    meta = json.loads((Path(json.loads(out)["path"]) / "checkpoint.json").read_text())
    assert meta["image_size"] == 24
    # The submission predicts at the run's size, whatever the folder's default is.
    code, out, err = tk(capsys, "submit", "--run", record["id"], "--json")
    assert code == 0, err


QUICK_STUDY = """
[study]
trials = 2
sampler = "random"
seed = 0

[fixed]
epochs = 4
batch_size = 32

[[pipelines]]
encoder = "fastnet"
loss = "softmax-ce"
head = "finetune"
default_space = false
fixed = { "encoder.width" = 0.25 }
space = { lr = { type = "float", low = 2e-3, high = 5e-3, log = true } }
"""


def test_tune_and_run_optimise_the_competitions_metric_in_its_direction(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import optuna

    from toolkit.tune import load

    study_file = sandbox / "quick.toml"
    study_file.write_text(QUICK_STUDY)
    folder = sandbox / "photos-tune"
    assert (
        tk(capsys, "data", "example", "photos", str(folder), "--submission", "probability")[0] == 0
    )
    code, _out, err = tk(capsys, "tune", str(study_file), str(folder), "--quiet")
    assert code == 0, err
    study = load("quick")
    assert study.direction == optuna.study.StudyDirection.MINIMIZE  # log loss
    assert study.user_attrs["metric"] == "log_loss"
    values = [t.value for t in study.trials if t.value is not None]
    assert len(values) == 2 and study.best_value == min(values)
    code, out, err = tk(capsys, "study", "show", "quick")
    assert code == 0 and "log loss" in out, err

    # tk run: the whole job on a class-probabilities competition, no flag but the study.
    folder = sandbox / "photos-run"
    kind = "class-probabilities"
    assert tk(capsys, "data", "example", "photos", str(folder), "--submission", kind)[0] == 0
    code, out, err = tk(capsys, "run", str(folder), "--study", str(study_file), "--quiet")
    assert code == 0, err
    assert "class-probabilities" in out and "log loss" in out
