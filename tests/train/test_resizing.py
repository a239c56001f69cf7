"""Progressive resizing: the side schedule, what a run's steps and evaluations see, the
setting's checks and the preflight that refuses an encoder fixed to one size."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from toolkit.data import Competition
from toolkit.errors import ToolkitError
from toolkit.metrics import get_metric
from toolkit.train.config import TrainConfig, apply_overrides, parse_overrides, validate
from toolkit.train.loop import Context, fit
from toolkit.train.model import preflight
from toolkit.train.parts import Splits, build_model
from toolkit.train.plan import make_plan
from toolkit.train.progress import Progress
from toolkit.train.resizing import ProgressiveResize
from toolkit.train.stages import Setup, build_stage


def test_the_side_grows_from_the_fraction_to_full_size_in_steps_of_8_pixels() -> None:
    resize = ProgressiveResize(0.5, 0.5)
    sides = []
    for progress in (0.0, 0.2, 0.25, 0.49, 0.5, 0.9, 1.0):
        resize.progress = progress
        sides.append(resize.side(32))
    assert sides == [16, 16, 24, 24, 32, 32, 32]
    resize.progress = 0.0
    assert resize.side(224) == 112 and resize.side(8) == 8  # never under 8 pixels
    tiny = ProgressiveResize(0.1, 1.0)
    tiny.progress = 0.0
    assert tiny.side(32) == 8


def test_a_batch_is_resized_to_the_side_of_each_axis_and_passed_on_at_full_size() -> None:
    resize = ProgressiveResize(0.5, 0.5)
    assert resize(torch.rand(1, 3, 32, 32)).shape[2:] == (32, 32)  # full size until told
    resize.progress = 0.0
    x = torch.rand(4, 3, 32, 48)
    small = resize(x)
    assert small.shape == (4, 3, 16, 24)
    # Antialiased: a flat image stays flat, and the mean of a batch is kept.
    flat = torch.full((2, 3, 32, 32), 0.25)
    assert torch.allclose(resize(flat), torch.full((2, 3, 16, 16), 0.25), atol=1e-6)
    assert abs(float(small.mean()) - float(x.mean())) < 0.01
    resize.progress = 0.5
    assert resize(x) is x


def _stage_inputs(cfg: TrainConfig, side: int = 32) -> tuple[list[tuple[int, int]], list[int]]:
    """Run one stage on 64 random images of ``side`` px with ``cfg``: the sides the encoder
    saw in training steps and in evaluations."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (64, 3, side, side), generator=gen, dtype=torch.uint8)
    y = torch.arange(64) % 4
    splits = Splits(list(range(4)), x, y, x[:16], y[:16])
    model = build_model(cfg, splits, torch.device("cpu"))
    setup = Setup(cfg, get_metric("accuracy"), contextlib.nullcontext, torch.Generator())
    (plan,) = make_plan(cfg, n_train=64, kinds=model.kinds).stages
    stage = build_stage(plan, model, splits, setup)
    trained: list[tuple[int, int]] = []
    evaluated: list[int] = []

    def record(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        # Training steps take gradients; evaluations and BatchNorm refreshes do not.
        seen = trained if torch.is_grad_enabled() else evaluated
        seen.append(tuple(args[0].shape[2:]))

    model.encoder.register_forward_pre_hook(record)
    ctx = Context(cfg, None, Progress(True), None, torch.device("cpu"), contextlib.nullcontext, 0)
    fit(stage, ctx)
    return trained, sorted({s[0] for s in evaluated})


def test_a_run_trains_on_small_batches_first_and_evaluates_at_full_size() -> None:
    base = TrainConfig(
        encoder="fastnet", batch_size=16, epochs=4, optimizer="sgd", lr=0.01, crop_pad=2
    )
    cfg = dataclasses.replace(base, progressive_resize=0.5, progressive_until=0.5)
    trained, evaluated = _stage_inputs(cfg)
    # 4 epochs of 4 steps; progress by steps: 16 px while under 1/4, then 24, full from 1/2.
    assert [s[0] for s in trained] == [16] * 4 + [24] * 4 + [32] * 8
    assert all(h == w for h, w in trained)
    assert evaluated == [32]  # evaluations (and the BatchNorm refresh) see the full size
    off, _ = _stage_inputs(base)
    assert {s[0] for s in off} == {32}


def test_the_settings_read_from_set_round_trip_and_are_checked() -> None:
    pairs = ["progressive_resize=0.5", "progressive_until=0.75"]
    cfg = apply_overrides(TrainConfig(), parse_overrides(pairs))
    assert (cfg.progressive_resize, cfg.progressive_until) == (0.5, 0.75)
    validate(cfg)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert TrainConfig().progressive_resize == 0.0  # off unless asked for
    for bad in (
        {"progressive_resize": 1.0},
        {"progressive_resize": -0.5},
        {"progressive_until": 0},
    ):
        with pytest.raises(ToolkitError, match="progressive_resize is a fraction"):
            validate(dataclasses.replace(TrainConfig(), **bad))


def test_preflight_refuses_an_encoder_that_takes_one_size_only() -> None:
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    y = torch.arange(8) % 2
    splits = Splits([0, 1], x, y, x[:2], y[:2])
    cfg = TrainConfig(encoder="pixels", head="finetune", progressive_resize=0.5)
    model = build_model(cfg, splits, torch.device("cpu"))
    with pytest.raises(ToolkitError, match=r"3x16x16 batches progressive_resize=0.5.*set pro"):
        preflight(model, splits, cfg)
    preflight(model, splits, dataclasses.replace(cfg, progressive_resize=0.0))
    # A head on frozen features never sees resized batches: nothing to refuse.
    frozen = dataclasses.replace(cfg, head="linear-probe")
    preflight(build_model(frozen, splits, torch.device("cpu")), splits, frozen)


def test_a_run_with_progressive_resizing_records_it_and_predicts_at_full_size(
    tmp_path: Path, runs_dir: Path
) -> None:
    """End to end on crops of real photos: the run records the setting, and its checkpoint
    predicts full-size images (what a submission does)."""
    from toolkit.data import make_example
    from toolkit.train import train
    from toolkit.train.model import load_model
    from toolkit.train.task import load_for

    cfg = TrainConfig(
        encoder="fastnet",
        encoder_params={"width": 0.25},
        optimizer="sgd",
        lr=0.05,
        batch_size=16,
        epochs=2,
        flip=True,
        crop_pad=2,
        progressive_resize=0.5,
        image_size=32,
    )
    comp: Competition = load_for(cfg, make_example("photos", tmp_path / "photos", n_images=60))
    result = train(cfg, comp, quiet=True)
    assert result.status == "completed" and result.path is not None
    saved = json.loads((result.path / "run.json").read_text())["config"]
    assert (saved["progressive_resize"], saved["progressive_until"]) == (0.5, 0.5)
    loaded = load_model(str(result.path))
    probs = np.asarray(loaded.predict_probs(torch.from_numpy(np.array(comp.x_test[:5]))))
    assert probs.shape == (5, len(loaded.classes))
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)
