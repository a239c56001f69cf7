"""The budget picks the width: the rule on measured speeds, and a real run that records it."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import torch

from toolkit.data import Competition
from toolkit.train import TrainConfig, autosize, train
from toolkit.train.parts import load_splits
from toolkit.train.stages import Setup


def _setup(cfg: TrainConfig) -> Setup:
    from toolkit.metrics import get_metric

    return Setup(cfg, get_metric("accuracy"), contextlib.nullcontext, torch.Generator())


def test_no_probe_without_budget_or_when_width_is_set() -> None:
    assert autosize.applies(TrainConfig(autosize=False, budget=60)) == "autosize is off"
    assert "no budget" in str(autosize.applies(TrainConfig(autosize=True)))
    set_width = TrainConfig(autosize=True, budget=60, encoder_params={"width": 0.75})
    assert "was set" in str(autosize.applies(set_width))
    pixels = TrainConfig(autosize=True, budget=60, encoder="pixels", head="linear-probe")
    assert "no width parameter" in str(autosize.applies(pixels))
    assert autosize.applies(TrainConfig(autosize=True, budget=60)) is None


@pytest.mark.parametrize(
    ("speeds", "expected", "probes"),
    [
        # The narrowest is probed first, the wide one only when the narrowest fits.
        ({1.0: 1e6, 0.5: 3e6}, 1.0, [0.5, 1.0]),  # a fast machine: the wide model fits
        ({1.0: 10.0, 0.5: 1e6}, 0.5, [0.5, 1.0]),  # the wide one would not: the narrow one
        ({1.0: 1.0, 0.5: 2.0}, 0.5, [0.5]),  # neither reaches MIN_EPOCHS: the narrowest
        # A small train split: 270k images are 100+ epochs, but under MIN_IMAGES: narrow ...
        ({1.0: 500.0, 0.5: 1e6}, 0.5, [0.5, 1.0]),
        ({1.0: 1000.0, 0.5: 1e6}, 1.0, [0.5, 1.0]),  # ... 540k images are enough: wide
        # The narrowest falls short of MIN_IMAGES: no wider width is probed at all.
        ({1.0: 1e6, 0.5: 500.0}, 0.5, [0.5]),
    ],
)
def test_the_widest_width_that_gets_enough_epochs_and_images_narrowest_probed_first(
    digits: Competition,
    monkeypatch: pytest.MonkeyPatch,
    speeds: dict[float, float],
    expected: float,
    probes: list[float],
) -> None:
    cfg = TrainConfig(autosize=True, budget=600, epochs=1)
    splits = load_splits(cfg, digits, torch.device("cpu"))
    probed: list[float] = []

    def fake_probe(c: TrainConfig, *_: object) -> autosize.Probe:
        probed.append(c.encoder_params["width"])
        seconds = 256 / speeds[c.encoder_params["width"]]
        return autosize.Probe(
            "finetune", ((256, 9.0),) * autosize.WARMUP_STEPS + ((256, seconds),)
        )

    monkeypatch.setattr(autosize, "probe", fake_probe)
    chosen_cfg, sizing = autosize.choose(cfg, splits, torch.device("cpu"), _setup(cfg), 0.0)
    assert chosen_cfg.encoder_params["width"] == expected == sizing.chosen
    assert probed == probes
    # epochs = speed x the training share of the budget / train images
    n = len(splits.y_train)
    assert sizing.epochs[str(probed[0])] == pytest.approx(speeds[probed[0]] * 540 / n, rel=0.05)


def test_the_probe_measures_real_steps_and_changes_no_weights(digits: Competition) -> None:
    cfg = TrainConfig(autosize=True, budget=60, epochs=1, encoder_params={"width": 0.5})
    splits = load_splits(cfg, digits, torch.device("cpu"))
    measured = autosize.probe(cfg, splits, torch.device("cpu"), _setup(cfg))
    assert measured is not None and measured.stage == "finetune"
    assert (
        autosize.WARMUP_STEPS
        < len(measured.steps)
        <= (autosize.WARMUP_STEPS + autosize.PROBE_MAX_STEPS)
    )
    assert all(n == min(cfg.batch_size, len(splits.y_train)) for n, _ in measured.steps[:1])
    assert measured.images_per_s > 0
    frozen = TrainConfig(autosize=True, budget=60, head="linear-probe")
    assert autosize.probe(frozen, splits, torch.device("cpu"), _setup(frozen)) is None


def test_a_probe_past_its_time_stops_after_the_step_it_is_in(digits: Competition) -> None:
    cfg = TrainConfig(autosize=True, budget=60, epochs=1, encoder_params={"width": 0.5})
    splits = load_splits(cfg, digits, torch.device("cpu"))
    measured = autosize.probe(cfg, splits, torch.device("cpu"), _setup(cfg), 0.0)
    assert measured is not None and len(measured.steps) == 1  # a warm-up step: its rate
    n, seconds = measured.steps[0]
    assert measured.images_per_s == pytest.approx(n / seconds)


def test_the_speed_is_the_median_of_the_timed_steps() -> None:
    warm = ((100, 5.0),) * autosize.WARMUP_STEPS  # slow warm-up steps are not counted
    steady = autosize.Probe("finetune", (*warm, (100, 1.0), (100, 1.0), (100, 1.0)))
    assert steady.images_per_s == pytest.approx(100.0)
    # One step four times slower (a page fault, a neighbour) does not move the median ...
    stalled = autosize.Probe("finetune", (*warm, (100, 1.0), (100, 4.0), (100, 1.0)))
    assert stalled.images_per_s == pytest.approx(100.0)
    # ... and a short last batch counts by its own rate.
    short = autosize.Probe("finetune", (*warm, (100, 1.0), (10, 0.1)))
    assert short.images_per_s == pytest.approx(100.0)
    # A probe that ran only warm-up steps (a tiny budget): the last one.
    only_warm = autosize.Probe("finetune", ((100, 5.0), (100, 2.0)))
    assert only_warm.images_per_s == pytest.approx(50.0)


def test_a_budget_run_records_the_probe_and_trains_the_chosen_width(
    digits: Competition, runs_dir: Path
) -> None:
    cfg = TrainConfig(autosize=True, budget=6.0, optimizer="sgd", lr=0.05, batch_size=128)
    result = train(cfg, digits, quiet=True)
    record = json.loads((result.path / "run.json").read_text())
    chosen = record["autosize"]["chosen"]
    assert chosen in autosize.WIDTHS
    assert record["config"]["encoder_params"]["width"] == chosen
    assert str(chosen) in record["autosize"]["images_per_s"]
    meta = json.loads((result.path / "checkpoint.json").read_text())
    assert json.dumps(chosen) in json.dumps(meta)  # the checkpoint rebuilds that width
