"""Short real trainings on the bundled digits that must reach stated accuracies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from toolkit.data import Competition
from toolkit.errors import ToolkitError
from toolkit.train import TrainConfig, train


def test_softmax_regression_on_pixels(digits: Competition, runs_dir: Path) -> None:
    cfg = TrainConfig(encoder="pixels", loss="softmax-ce", head="linear-probe", head_epochs=30)
    result = train(cfg, digits, quiet=True)
    assert result.status == "completed"
    assert result.metrics["val_acc"] >= 0.90  # measured 0.94
    assert result.metrics["test_acc"] >= 0.88
    files = {p.name for p in result.path.iterdir()}
    assert {
        "run.json",
        "metrics.csv",
        "checkpoint.safetensors",
        "checkpoint.json",
        "val_probs.npy",
        "test_probs.npy",
        "curves.png",
        "metrics.json",
    } <= files
    record = json.loads((result.path / "run.json").read_text())
    assert record["status"] == "completed" and record["config"]["encoder"] == "pixels"
    probs = np.load(result.path / "test_probs.npy")
    assert probs.shape == (len(digits.test_ids), 10)
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)


def test_binary_logistic_regression_on_two_classes(digits: Competition, runs_dir: Path) -> None:
    cfg = TrainConfig(
        encoder="pixels",
        loss="bce",
        head="linear-probe",
        classes=("0", "1"),
        head_iterations=200,
        eval_every=20,
    )
    result = train(cfg, digits, quiet=True)
    assert result.metrics["val_acc"] >= 0.95
    assert np.load(result.path / "test_probs.npy").shape[1] == 2


def test_bce_on_ten_classes_is_a_user_error(digits: Competition, runs_dir: Path) -> None:
    cfg = TrainConfig(encoder="pixels", loss="bce", head="linear-probe")
    with pytest.raises(ToolkitError, match="2 classes"):
        train(cfg, digits, quiet=True)


def test_fastnet_finetune_reaches_95_percent(digits: Competition, runs_dir: Path) -> None:
    cfg = TrainConfig(epochs=6, batch_size=64, lr=2e-3)
    result = train(cfg, digits, quiet=True)
    assert result.metrics["val_acc"] >= 0.95


def test_triplet_encoder_then_linear_probe(digits: Competition, runs_dir: Path) -> None:
    cfg = TrainConfig(
        encoder="convnet4",
        loss="triplet",
        head="linear-probe",
        encoder_params={"embedding_dim": 32, "hidden": 256},
        epochs=3,
        batch_size=64,
        head_epochs=20,
    )
    result = train(cfg, digits, quiet=True)
    assert result.metrics["val_knn_acc"] >= 0.85
    assert result.metrics["val_acc"] >= 0.85
    assert (result.path / "tsne.png").stat().st_size > 1000
    stages = {
        line.split(",")[1] for line in (result.path / "metrics.csv").read_text().splitlines()[1:]
    }
    assert stages == {"encoder", "head"}


def test_same_seed_same_metrics(digits: Competition, runs_dir: Path) -> None:
    cfg = TrainConfig(
        epochs=1, batch_size=128, encoder_params={"width": 0.25}, crop_pad=1, flip=True
    )
    a = train(cfg, digits, quiet=True)
    b = train(cfg, digits, quiet=True)
    assert a.metrics == b.metrics
    pa, pb = (np.load(r.path / "val_probs.npy") for r in (a, b))
    assert np.array_equal(pa, pb)


def test_checkpoint_reloads_to_the_same_predictions(digits: Competition, runs_dir: Path) -> None:
    from toolkit.train.model import load_model

    cfg = TrainConfig(epochs=1, batch_size=128, encoder_params={"width": 0.25})
    result = train(cfg, digits, quiet=True)
    model = load_model(result.run_id)
    assert model.classes == list(digits.classes)
    probs = model.predict_probs(digits.x_test)
    assert np.allclose(probs, np.load(result.path / "test_probs.npy"), atol=1e-5)


@pytest.fixture
def sim_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A simulated clock for budget tests: every ``time.perf_counter()`` reading advances it
    50 ms, so they do not depend on the machine's speed. ``[0]`` is its time (add to it to
    jump ahead)."""
    import time

    now = [time.perf_counter()]

    def clock() -> float:
        now[0] += 0.05
        return now[0]

    monkeypatch.setattr(time, "perf_counter", clock)
    return now


def test_budget_shapes_the_schedule_and_ends_in_time(
    digits: Competition, runs_dir: Path, sim_clock: list[float]
) -> None:
    """Under a budget the clock ends training when the reserve for the final evaluation and
    artifacts, priced at the evaluations' measured speed, is left (on the simulated clock)."""
    from toolkit.train.reserve import ARTIFACTS_S, SAFETY

    cfg = TrainConfig(budget=6.0, batch_size=64, encoder_params={"width": 0.25})
    result = train(cfg, digits, quiet=True)
    record = json.loads((result.path / "run.json").read_text())
    rows = (result.path / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    last_eval = float(rows[-1].split(",")[header.index("time_s")])
    use = record["budget_use"]
    reserve = use["reserve_estimated_s"]
    assert SAFETY * ARTIFACTS_S < reserve < 6.0 * 0.75  # artifacts plus the priced forwards
    # Training stopped with the reserve left (within a step and the last evaluation).
    assert 6.0 - reserve - 1.0 <= last_eval <= use["training_ended_s"] <= 6.0 - reserve + 0.5
    assert record["config"]["budget"] == 6.0 and record["steps"] > 0
    assert record["duration_s"] <= 6.0 + 0.5  # and the run ended within its budget


def test_a_budget_run_records_when_each_stage_ended_and_the_reserve_it_left(
    digits: Competition, runs_dir: Path, sim_clock: list[float]
) -> None:
    """A contrastive encoder, then a probe on its frozen features: ``budget_use.stages`` has
    both, in order (on the simulated clock)."""
    cfg = TrainConfig(
        budget=8.0,
        batch_size=64,
        loss="supcon",
        head="linear-probe",
        head_epochs=2,
        encoder_params={"width": 0.25},
    )
    result = train(cfg, digits, quiet=True)
    record = json.loads((result.path / "run.json").read_text())
    use = record["budget_use"]
    encoder, probe = use["stages"]
    assert (encoder["stage"], probe["stage"]) == ("encoder", "head")
    # The encoder left time for extracting the features, the probe and the final work; its
    # reserve was priced once its evaluations had measured the speed.
    assert 0 < encoder["ended_s"] < probe["ended_s"] == use["training_ended_s"] < 8.0
    assert encoder["reserve_estimated_s"] > probe["reserve_estimated_s"] > 0
    assert probe["reserve_estimated_s"] == use["reserve_estimated_s"]
    # Each stage's images (feature rows for the probe); images_seen counts both stages.
    assert encoder["images"] > 0 and probe["images"] > 0
    assert encoder["images"] + probe["images"] == record["images_seen"]


def test_budget_caps_a_probe_but_does_not_stretch_it(digits: Competition, runs_dir: Path) -> None:
    cfg = TrainConfig(
        encoder="pixels", loss="softmax-ce", head="linear-probe", head_epochs=3, budget=120.0
    )
    result = train(cfg, digits, quiet=True)
    record = json.loads((result.path / "run.json").read_text())
    assert record["evaluations"] == 3  # its epochs ended it, not the 120 s of budget
    # Its evaluations score cached features: extracting them measured the forward speed.
    assert record["budget_use"]["reserve_estimated_s"] > 0


def test_a_budget_counts_from_when_the_caller_started_it(
    digits: Competition, runs_dir: Path, sim_clock: list[float]
) -> None:
    """``started``: what the caller did first (``tk train`` loads the images) is inside the
    budget (on the simulated clock)."""
    import time

    started = time.perf_counter()
    sim_clock[0] += 3.0  # three seconds of loading
    cfg = TrainConfig(budget=6.0, batch_size=64, encoder_params={"width": 0.25})
    result = train(cfg, digits, quiet=True, started=started)
    record = json.loads((result.path / "run.json").read_text())
    rows = (result.path / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    first_eval = float(rows[1].split(",")[header.index("time_s")])
    assert first_eval > 3.0  # the run's times count from the start of the budget
    assert 3.0 < record["budget_use"]["training_ended_s"] < record["duration_s"]
