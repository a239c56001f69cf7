"""The learning-rate finder: fastai's valley rule, and a real sweep on digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._cli import run_main
from toolkit.data import Competition
from toolkit.train import TrainConfig
from toolkit.train.lr_find import plot_sweep, suggest, sweep_lr, valley


def test_valley_takes_two_thirds_down_the_longest_decreasing_run() -> None:
    # Longest strictly decreasing subsequence: 3.0 2.9 2.5 2.0 1.5 1.0 0.8 (indices 0,1,3..7),
    # length 7 ending at 7; fastai's start = 7 - 7 = 0, sections = 7/3 = 2.33,
    # index = 0 + int(2.33) + int(1.17) = 3.
    losses = [3.0, 2.9, 3.1, 2.5, 2.0, 1.5, 1.0, 0.8, 0.9, 2.0, 5.0]
    assert valley(losses) == 3
    assert valley([1.0, 2.0, 3.0]) == 0  # no descent: the first point
    assert valley([2.0, 1.0]) == 0  # fastai's index would be -1 (the last point) here


def test_suggest_skips_the_first_tenth_and_the_last_five() -> None:
    curve = [5.0, 1.0] + [4.0 - 0.1 * i for i in range(20)] + [9.0] * 5
    # steps=20 skips 2 points: without that, the drop from 5.0 to 1.0 would win
    assert suggest(curve, 20) == 2 + valley(curve[2:-5])
    assert suggest([3.0, 2.0, 1.0], 100) == valley([3.0, 2.0, 1.0])  # too short to trim


def test_a_sweep_on_digits_suggests_an_lr_inside_the_range_before_the_blow_up(
    digits: Competition, runs_dir: Path, tmp_path: Path
) -> None:
    torch.manual_seed(123)
    np.random.seed(123)
    before_torch, before_np = torch.get_rng_state(), np.random.get_state()[1].copy()
    cfg = TrainConfig(device="cpu", threads=1, batch_size=64)

    sweep = sweep_lr(cfg, digits, steps=40)

    assert torch.equal(torch.get_rng_state(), before_torch)  # later runs draw as before
    assert (np.random.get_state()[1] == before_np).all()
    assert sweep.stage == "finetune" and sweep.setting == "lr"
    assert sweep.lrs == sorted(sweep.lrs) and 1e-7 <= sweep.lrs[0] < sweep.lrs[-1] <= 10.0
    assert sweep.lrs[0] <= sweep.suggested_lr <= sweep.lrs[-1]
    assert sweep.stopped_lr is not None  # Adam at lr ~10 blows up
    assert sweep.suggested_lr < sweep.stopped_lr
    assert sweep.suggested_lr < sweep.lrs[int(np.argmin(sweep.losses))]  # before the minimum
    assert not runs_dir.exists()  # no run folder
    png = plot_sweep(sweep, tmp_path / "lr.png", "digits")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_the_command_prints_json_and_writes_the_plot(
    digits_dir: Path,
    runs_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    png = tmp_path / "plot.png"
    argv = ["lr-find", str(digits_dir), "--steps", "30", "--set", "batch_size=64"]
    code, out, err = run_main(capsys, *argv, "--out", str(png), "--json", "--quiet")
    assert code == 0, err
    record = json.loads(out)
    assert record["png"] == str(png) and png.is_file()
    assert len(record["lrs"]) == len(record["losses"]) >= 2
    assert min(record["lrs"]) <= record["suggested_lr"] <= max(record["lrs"])


def test_under_a_budget_the_sweep_trains_the_width_autosize_picks(
    digits: Competition, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recipe that sizes the model by the budget: the sweep probes and sweeps that width."""
    from toolkit.train import autosize

    widths: list[float] = []

    def fake_probe(c: TrainConfig, *_: object) -> autosize.Probe:
        widths.append(c.encoder_params["width"])
        speed = 10.0 if c.encoder_params["width"] == 1.0 else 1e6
        return autosize.Probe("finetune", ((64, 64 / speed),) * (autosize.WARMUP_STEPS + 1))

    monkeypatch.setattr(autosize, "probe", fake_probe)
    built: list[float] = []
    from toolkit.train import parts  # the sweep imports build_model from here when it runs

    real = parts.build_model

    def spy(cfg: TrainConfig, *args: object, **kwargs: object) -> object:
        built.append(cfg.encoder_params.get("width"))
        return real(cfg, *args, **kwargs)

    monkeypatch.setattr(parts, "build_model", spy)
    cfg = TrainConfig(encoder="fastnet", autosize=True, budget=60, optimizer="sgd")
    sweep = sweep_lr(cfg, digits, steps=10)
    assert widths == [0.5, 1.0] and built == [0.5]
    assert sweep.autosize is not None and sweep.autosize.startswith("width 0.5")
    assert sweep.as_json()["autosize"] == sweep.autosize
    plain = sweep_lr(TrainConfig(encoder="fastnet", optimizer="sgd"), digits, steps=10)
    assert plain.autosize is None and plain.as_json()["autosize"] is None
