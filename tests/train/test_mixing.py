"""Mixup and CutMix: the mixed images and losses by hand, the box, the clean end, the settings."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import pytest
import torch
from torch.nn import functional as F

from toolkit.errors import ToolkitError
from toolkit.metrics import get_metric
from toolkit.train.config import TrainConfig, apply_overrides, validate
from toolkit.train.loop import Context, fit
from toolkit.train.mixing import MIX_UNTIL, Mixed, Mixing, check
from toolkit.train.parts import Splits, build_model
from toolkit.train.plan import make_plan
from toolkit.train.progress import Progress
from toolkit.train.stages import Setup, build_stage

N, SIDE, K = 64, 6, 4  # training images, their side, classes


def _finetune(seed: int = 0, **settings: Any) -> tuple[Any, Any, Splits, Setup]:
    """A pixels + finetune stage on random images: (stage, model, splits, setup)."""
    cfg = dataclasses.replace(
        TrainConfig(encoder="pixels", head="finetune", batch_size=16, epochs=2, seed=seed),
        **settings,
    )
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (N, 1, SIDE, SIDE), generator=gen, dtype=torch.uint8)
    y = torch.arange(N) % K
    splits = Splits(list(range(K)), x, y, x[:8], y[:8])
    torch.manual_seed(0)
    model = build_model(cfg, splits, torch.device("cpu"))
    setup = Setup(
        cfg, get_metric("accuracy"), contextlib.nullcontext, torch.Generator().manual_seed(seed)
    )
    (plan,) = make_plan(cfg, n_train=N, kinds=model.kinds).stages
    return build_stage(plan, model, splits, setup), model, splits, setup


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, torch.Tensor, Mixed]]:
    """Record (progress, the batch given, the mixed batch) of every call of a Mixing."""
    calls: list[tuple[float, torch.Tensor, Mixed]] = []
    real = Mixing.__call__

    def spy(self: Mixing, x: torch.Tensor, y: torch.Tensor) -> Mixed:
        mixed = real(self, x, y)
        calls.append((self.progress, x.clone(), mixed))
        return mixed

    monkeypatch.setattr(Mixing, "__call__", spy)
    return calls


def test_the_mixup_loss_is_the_hand_computed_mix(monkeypatch: pytest.MonkeyPatch) -> None:
    stage, model, splits, _ = _finetune(mixup=0.4)
    calls = _spy(monkeypatch)
    idx = torch.arange(16)
    loss = stage.step(idx).detach()
    ((_, _, mixed),) = calls
    assert mixed.kind == "mixup" and 0.0 < mixed.lam < 1.0
    order = list(range(16))
    assert sorted(mixed.perm.tolist()) == order and mixed.perm.tolist() != order
    # By hand: the same images blended with their partners, the two labels' losses weighted.
    xb = model.normalizer(splits.x_train[idx])
    x_hand = mixed.lam * xb + (1 - mixed.lam) * xb[mixed.perm]
    assert torch.allclose(mixed.x, x_hand, atol=1e-6)
    with torch.no_grad():
        out = model.head(model.encoder(x_hand)).float()
    y = splits.y_train[idx]
    hand = mixed.lam * F.cross_entropy(out, y) + (1 - mixed.lam) * F.cross_entropy(
        out, y[mixed.perm]
    )
    assert float(loss) == pytest.approx(float(hand), rel=1e-5)
    assert float(loss) != pytest.approx(float(F.cross_entropy(out, y)), rel=1e-3)


def test_a_seed_draws_the_same_mixes_and_alpha_shapes_lambda() -> None:
    x, y = torch.randn(8, 3, 4, 4), torch.arange(8)

    def draws(seed: int, alpha: float, n: int) -> list[float]:
        mixing = Mixing(alpha, 0.0, torch.Generator().manual_seed(seed))
        return [mixing(x, y).lam for _ in range(n)]

    assert draws(3, 0.2, 5) == draws(3, 0.2, 5) != draws(4, 0.2, 5)
    small, large = draws(0, 0.2, 400), draws(0, 8.0, 400)
    # Beta(0.2, 0.2) puts lambda near 0 or 1; Beta(8, 8) near 0.5 (both have mean 0.5).
    assert sum(abs(v - 0.5) > 0.4 for v in small) > 200
    assert sum(abs(v - 0.5) > 0.4 for v in large) == 0
    assert abs(sum(large) / 400 - 0.5) < 0.05


def test_cutmix_pastes_one_box_weighted_by_its_area() -> None:
    b, h, w = 6, 16, 12
    x = torch.arange(b, dtype=torch.float32).view(b, 1, 1, 1).expand(b, 3, h, w).contiguous()
    y = torch.arange(b)
    mixing = Mixing(0.0, 1.0, torch.Generator().manual_seed(5))
    seen = 0
    for _ in range(20):
        mixed = mixing(x, y)
        assert mixed.kind == "cutmix"
        pasted = mixed.x != x  # (B, C, H, W): where an image shows its partner
        moved = mixed.perm != torch.arange(b)  # images whose partner is another image
        box = pasted[int(moved.nonzero()[0]), 0]
        if box.any():
            seen += 1
            rows, cols = box.any(1).nonzero().flatten(), box.any(0).nonzero().flatten()
            y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            assert box[y0:y1, x0:x1].all() and int(box.sum()) == (y1 - y0) * (x1 - x0)  # a box
            # the label weight of the partner is the box's share of the area
            assert 1 - mixed.lam == pytest.approx((y1 - y0) * (x1 - x0) / (h * w))
        # every image has the same box, filled with its partner's pixels
        assert (pasted[moved] == box.expand(3, h, w)).all()
        inside = mixed.x[:, :, box]  # (B, C, pixels)
        assert (inside == x[mixed.perm][:, :, box]).all()
        assert torch.equal(mixed.y_b, y[mixed.perm])
    assert seen >= 15


def test_both_on_picks_one_per_batch() -> None:
    x, y = torch.randn(8, 3, 10, 10), torch.arange(8)
    mixing = Mixing(0.5, 1.0, torch.Generator().manual_seed(0))
    kinds = [mixing(x, y).kind for _ in range(60)]
    assert 15 <= kinds.count("mixup") <= 45 and kinds.count("cutmix") == 60 - kinds.count("mixup")


def test_the_last_tenth_of_training_is_unmixed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real stage fitted with mixup and cutmix: the steps past MIX_UNTIL see clean batches."""
    stage, _, _, setup = _finetune(mixup=1.0, cutmix=1.0, epochs=5)
    calls = _spy(monkeypatch)
    ctx = Context(
        setup.config, None, Progress(True), None, torch.device("cpu"), contextlib.nullcontext, 0.0
    )
    fit(stage, ctx)
    assert len(calls) == stage.plan.steps == 20
    early = [m for p, _, m in calls if p < MIX_UNTIL]
    late = [(x, m) for p, x, m in calls if p >= MIX_UNTIL]
    assert late and early and all(m.kind != "none" for m in early)
    assert all(m.kind == "none" and m.lam == 1.0 and torch.equal(m.x, x) for x, m in late)
    assert calls[0][0] == 0.0 and calls[-1][0] == pytest.approx(19 / 20)


def test_the_encoder_stage_never_mixes(monkeypatch: pytest.MonkeyPatch) -> None:
    """An embedding loss trains on clean batches whatever mixup says; the finetune stage
    after it mixes."""
    cfg = TrainConfig(encoder="pixels", loss="supcon", head="finetune", mixup=1.0)
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (N, 1, SIDE, SIDE), generator=gen, dtype=torch.uint8)
    y = torch.arange(N) % K
    splits = Splits(list(range(K)), x, y, x[:8], y[:8])
    model = build_model(cfg, splits, torch.device("cpu"))
    setup = Setup(cfg, get_metric("accuracy"), contextlib.nullcontext, torch.Generator())
    plan = make_plan(cfg, n_train=N, kinds=model.kinds)
    check(cfg, plan)  # accepted: the finetune stage mixes
    encoder, finetune = (build_stage(p, model, splits, setup) for p in plan.stages)
    assert (encoder.name, finetune.name) == ("encoder", "finetune")
    calls = _spy(monkeypatch)
    assert encoder.mixing is None and torch.isfinite(encoder.step(torch.arange(16)))
    assert calls == []
    finetune.step(torch.arange(16))
    assert finetune.mixing is not None and calls[0][2].kind == "mixup"


def test_mixing_without_a_finetune_stage_is_refused() -> None:
    from toolkit.train.plan import Kinds

    cfg = TrainConfig(encoder="pixels", head="linear-probe", cutmix=1.0)
    kinds = Kinds(embedding_loss=False, balanced_batches=False, trains_encoder=False)
    with pytest.raises(ToolkitError, match="head=finetune") as err:
        check(cfg, make_plan(cfg, n_train=N, kinds=kinds))
    assert "\n" not in str(err.value)
    check(dataclasses.replace(cfg, cutmix=0.0), make_plan(cfg, n_train=N, kinds=kinds))


@pytest.mark.parametrize(
    ("key", "value"), [("mixup", "-0.2"), ("cutmix", "-1"), ("ema", "1.0"), ("ema", "-0.5")]
)
def test_invalid_values_are_one_line_errors(key: str, value: str) -> None:
    cfg = apply_overrides(TrainConfig(), {key: value})
    with pytest.raises(ToolkitError, match=key) as err:
        validate(cfg)
    assert "\n" not in str(err.value)


def test_a_study_file_searches_the_settings() -> None:
    import optuna

    from toolkit.registry import Choice, Float
    from toolkit.tune import parse_spec
    from toolkit.tune.objective import param_names, trial_config

    data = {
        "fixed": {"cutmix": 1.0},
        "space": {
            "mixup": {"type": "float", "low": 0.1, "high": 0.4},
            "ema": {"type": "float", "low": 0.9, "high": 0.999},
        },
        "pipelines": [{"encoder": "pixels", "loss": "softmax-ce", "head": "finetune"}],
    }
    spec = parse_spec(data, name="x")
    space = spec.pipelines[0].space
    assert space["mixup"] == Float(0.1, 0.4) and space["ema"] == Float(0.9, 0.999)
    names = param_names(spec)
    lowest = {k: d.choices[0] if isinstance(d, Choice) else d.low for k, d in space.items()}
    params = {names[(spec.pipelines[0].label, k)]: v for k, v in lowest.items()}
    _, cfg = trial_config(optuna.trial.FixedTrial(params), spec)
    assert (cfg.mixup, cfg.cutmix, cfg.ema) == (0.1, 1.0, 0.9)
    bad = {**data, "fixed": {"mixup": -1.0}, "space": {}}
    with pytest.raises(ToolkitError, match="mixup"):
        parse_spec(bad, name="x")
