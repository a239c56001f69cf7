"""airbench94's tricks as training settings: bias_lr_scale, flip_mode=alternate, and fastnet's
whitened stem in a run (the settings' checks too; lookahead is in test_lookahead.py)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from toolkit.data import Competition
from toolkit.errors import ToolkitError
from toolkit.metrics import get_metric
from toolkit.train import loop
from toolkit.train.config import TrainConfig, apply_overrides, parse_overrides, validate
from toolkit.train.loop import Context, Stage, fit
from toolkit.train.param_groups import param_groups
from toolkit.train.parts import Splits, build_model
from toolkit.train.plan import Kinds, make_plan
from toolkit.train.progress import Progress
from toolkit.train.stages import Setup, build_stage

# -- bias_lr_scale ---------------------------------------------------------------------------


def _net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))


def _bias_stage(net: nn.Sequential) -> Stage:
    """Two groups: the first layer at lr x 0.1, the rest at lr x 1; 4 steps of 16 rows."""
    cfg = TrainConfig(head_epochs=1, head_batch_size=16, head_lr=0.05)
    kinds = Kinds(embedding_loss=False, balanced_batches=False, trains_encoder=False)
    (plan,) = make_plan(cfg, n_train=64, kinds=kinds).stages
    x = torch.linspace(-1, 1, 64).unsqueeze(1)

    def step(idx: torch.Tensor) -> torch.Tensor:
        return ((net(x[idx]) - 2 * x[idx]) ** 2).mean()

    def batches(gen: torch.Generator) -> Iterator[torch.Tensor]:
        return iter(torch.randperm(64, generator=gen).split(16))

    def evaluate() -> dict[str, Any]:
        return {"score": 0.5, "value": 0.5}

    groups = [(list(net[0].parameters()), 0.1), (list(net[1:].parameters()), 1.0)]
    return Stage(plan, [net], groups, step, batches, evaluate)


def test_biases_and_norms_train_at_the_scaled_lr_through_the_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[torch.optim.Optimizer] = []
    real = loop.make_optimizer

    def spy(cfg: TrainConfig, stage: Stage) -> torch.optim.Optimizer:
        made.append(real(cfg, stage))
        return made[-1]

    monkeypatch.setattr(loop, "make_optimizer", spy)
    net = _net()
    cfg = TrainConfig(
        optimizer="sgd", weight_decay=5e-4, bias_lr_scale=64.0, warmup=0.5, schedule="linear"
    )
    ctx = Context(
        cfg, None, Progress(True), None, torch.device("cpu"), contextlib.nullcontext, 0.0
    )
    fit(_bias_stage(net), ctx)
    (opt,) = made
    weights_first, biases_first, weights_rest, biases_rest = opt.param_groups
    assert [{id(p) for p in g["params"]} for g in opt.param_groups] == [
        {id(net[0].weight)},
        {id(net[0].bias)},
        {id(net[2].weight)},
        {id(net[1].weight), id(net[1].bias), id(net[2].bias)},  # BatchNorm's too
    ]
    assert [g["lr_scale"] for g in opt.param_groups] == pytest.approx([0.1, 6.4, 1.0, 64.0])
    # airbench: weight decay / the scale, so the decay per step (lr * weight decay) is unchanged
    assert [g["weight_decay"] for g in opt.param_groups] == pytest.approx(
        [5e-4, 5e-4 / 64, 5e-4, 5e-4 / 64]
    )
    # After the last scheduled step: each group at the step's lr times its own scale.
    assert 0 < ctx.lr < 0.05  # the schedule moved the lr: the scales survived it
    for g in opt.param_groups:
        assert g["lr"] == pytest.approx(ctx.lr * g["lr_scale"])
    assert biases_rest["lr"] == pytest.approx(64 * weights_rest["lr"])
    assert biases_first["lr"] == pytest.approx(64 * weights_first["lr"])


def test_without_the_setting_the_groups_are_the_stages_and_frozen_ones_are_left_out() -> None:
    net = _net()
    net[0].weight.requires_grad_(False)
    groups = param_groups([(list(net.parameters()), 1.0)], 0.1, 5e-4)
    assert len(groups) == 1 and groups[0]["lr"] == 0.1 and groups[0]["weight_decay"] == 5e-4
    assert id(net[0].weight) not in {id(p) for p in groups[0]["params"]}
    assert len(groups[0]["params"]) == 5


# -- flip_mode -------------------------------------------------------------------------------

N, SIDE = 64, 6


def _flips_seen(monkeypatch: pytest.MonkeyPatch, epochs: int, **settings: Any) -> torch.Tensor:
    """(epochs, N) bool: whether the step showed image i flipped in each epoch."""
    cfg = dataclasses.replace(
        TrainConfig(encoder="pixels", head="finetune", batch_size=16, flip=True), **settings
    )
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (N, 1, SIDE, SIDE), generator=gen, dtype=torch.uint8)
    y = torch.arange(N) % 4
    splits = Splits(list(range(4)), x, y, x[:8], y[:8])
    model = build_model(cfg, splits, torch.device("cpu"))
    setup = Setup(cfg, get_metric("accuracy"), contextlib.nullcontext, torch.Generator())
    (plan,) = make_plan(cfg, n_train=N, kinds=model.kinds).stages
    stage = build_stage(plan, model, splits, setup)
    inputs: list[torch.Tensor] = []
    encoder = model.forward_encoder
    monkeypatch.setattr(model, "forward_encoder", lambda xb: inputs.append(xb) or encoder(xb))
    flipped = torch.zeros(epochs, N, dtype=torch.bool)
    batch_gen = torch.Generator().manual_seed(2)
    for epoch in range(epochs):
        for idx in stage.batches(batch_gen):
            stage.step(idx)
            plain = model.normalizer(x[idx])
            seen = inputs[-1]
            as_flipped = (seen - plain.flip(3)).abs().amax(dim=(1, 2, 3)) < 1e-6
            as_plain = (seen - plain).abs().amax(dim=(1, 2, 3)) < 1e-6
            assert bool((as_flipped ^ as_plain).all())  # each image shown one way or the other
            flipped[epoch, idx] = as_flipped
    return flipped


def test_alternating_flips_show_every_image_both_ways_in_two_epochs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flipped = _flips_seen(monkeypatch, 3, flip_mode="alternate")
    assert bool((flipped[0] ^ flipped[1]).all())  # each image flipped exactly once in 0-1
    assert bool((flipped[1] ^ flipped[2]).all())  # and in 1-2
    assert 16 <= int(flipped[0].sum()) <= 48  # a random half flipped first
    again = _flips_seen(monkeypatch, 1, flip_mode="alternate")
    assert torch.equal(again[0], flipped[0])  # seeded: the same images
    other_seed = _flips_seen(monkeypatch, 1, flip_mode="alternate", seed=1)
    assert not torch.equal(other_seed[0], flipped[0])


def test_random_flips_show_some_images_one_way_only(monkeypatch: pytest.MonkeyPatch) -> None:
    flipped = _flips_seen(monkeypatch, 2, flip_mode="random")
    assert not bool((flipped[0] ^ flipped[1]).all())


# -- the settings ----------------------------------------------------------------------------


def test_the_settings_read_from_set_and_are_checked() -> None:
    pairs = ["lookahead=0.5", "bias_lr_scale=64", "flip=true", "flip_mode=alternate"]
    cfg = apply_overrides(TrainConfig(), parse_overrides([*pairs, "encoder.whiten=true"]))
    assert (cfg.lookahead, cfg.bias_lr_scale, cfg.flip_mode) == (0.5, 64.0, "alternate")
    assert cfg.encoder_params == {"whiten": True}
    validate(cfg)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    defaults = TrainConfig()
    assert (defaults.lookahead, defaults.bias_lr_scale, defaults.flip_mode) == (0, 1, "random")
    for bad, needle in [
        ({"lookahead": 1.0}, "lookahead"),
        ({"lookahead": -0.1}, "lookahead"),
        ({"bias_lr_scale": 0.0}, "bias_lr_scale"),
        ({"flip_mode": "mirror", "flip": True}, "flip_mode must be"),
    ]:
        with pytest.raises(ToolkitError, match=needle):
            validate(dataclasses.replace(TrainConfig(), **bad))
    # The recipe alternates flips; a user who turns flips off needs no second setting.
    validate(dataclasses.replace(TrainConfig(), flip=False, flip_mode="alternate"))


# -- fastnet's whitened stem in a run ----------------------------------------------------------


def test_a_whitened_run_keeps_its_stem_and_reloads_to_the_same_predictions(
    digits: Competition, runs_dir: Path
) -> None:
    """The trainer whitens the stem from the training images before training; training never
    moves it; the checkpoint holds it and predicts as the run did."""
    from toolkit.train import train
    from toolkit.train.model import load_model
    from toolkit.train.parts import init_from_data, load_splits

    cfg = TrainConfig(
        epochs=1,
        batch_size=128,
        optimizer="sgd",
        lr=0.05,
        weight_decay=5e-4,
        encoder_params={"width": 0.25, "whiten": True},
    )
    result = train(cfg, digits, quiet=True)
    loaded = load_model(result.run_id)
    probs = loaded.predict_probs(digits.x_test)
    assert np.allclose(probs, np.load(result.path / "test_probs.npy"), atol=1e-5)
    # What the trainer's init set, recomputed: the same seeded sample of the same split.
    splits = load_splits(cfg, digits, torch.device("cpu"))
    fresh = build_model(cfg, splits, torch.device("cpu"))
    random_stem = fresh.encoder.stem[0].weight.detach().clone()
    init_from_data(fresh, splits, cfg.seed)
    whitened = fresh.encoder.stem[0].weight.detach()
    assert not torch.allclose(whitened, random_stem)
    stem = loaded.encoder.stem[0]
    assert torch.allclose(stem.weight, whitened, atol=1e-5)  # unchanged by a whole epoch
    assert not stem.weight.requires_grad
    assert float(stem.bias.detach().abs().max()) > 0  # the bias starts at 0 and trains
