"""The budget's reserve after each stage: what it counts, how the loop prices it, and the
forward passes evaluations report to price it with."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import torch

from toolkit.metrics import get_metric
from toolkit.train import evaluate as ev
from toolkit.train.config import TrainConfig
from toolkit.train.loop import Context, Stage, _eval_aware
from toolkit.train.parts import Splits, build_model
from toolkit.train.plan import Kinds, Plan, make_plan
from toolkit.train.progress import Progress
from toolkit.train.reserve import (
    ARTIFACTS_S,
    HEAD_SHARE,
    MARGIN_S,
    SAFETY,
    TSNE_S,
    Reserve,
    reserves,
)
from toolkit.train.stages import Setup, build_stage
from toolkit.train.tta import TTA

FINETUNE = Kinds(embedding_loss=False, balanced_batches=False, trains_encoder=True)
PROBE = Kinds(embedding_loss=False, balanced_batches=False, trains_encoder=False)
CONTRASTIVE_PROBE = Kinds(embedding_loss=True, balanced_batches=True, trains_encoder=False)
CONTRASTIVE_FINETUNE = Kinds(embedding_loss=True, balanced_batches=True, trains_encoder=True)


def _plan(kinds: Kinds, n_train: int = 40_000, budget: float = 600.0) -> Plan:
    return make_plan(TrainConfig(budget=budget), n_train=n_train, kinds=kinds)


def test_after_a_fine_tune_the_final_predictions_are_counted_view_by_view() -> None:
    (after,) = reserves(
        _plan(FINETUNE),
        end=1000.0,
        n_train_eval=5_000,
        n_val=4_500,
        n_test=5_000,
        views=2,
        tsne=True,
    )
    assert after is not None
    # 5,000 train images (the train accuracy's sample), 4,500 val, 5,000 test; two views each.
    assert after.views == 2 * (5_000 + 4_500 + 5_000)
    assert after.fixed_s == ARTIFACTS_S  # no t-SNE: not an embedding run
    assert after.end == 1000.0
    small = _plan(FINETUNE, n_train=300)  # a train split smaller than the sample
    (after,) = reserves(small, end=0.0, n_train_eval=300, n_val=30, n_test=100, views=1, tsne=True)
    assert after is not None and after.views == 300 + 30 + 100


def test_an_encoder_stage_keeps_time_for_the_features_the_head_and_the_final_work() -> None:
    plan = _plan(CONTRASTIVE_PROBE)
    encoder, head = reserves(
        plan, n_train_eval=5_000, end=900.0, n_val=4_500, n_test=5_000, views=2, tsne=True
    )
    assert encoder is not None and head is not None
    # After the head stage: test predictions (train and val features are cached), the kNN
    # score on plain embeddings (TTA features are not the kNN's), the artifacts and t-SNE.
    assert head.views == 2 * 5_000 + (5_000 + 4_500)
    assert head.fixed_s == ARTIFACTS_S + TSNE_S
    # Before it: the head stage's features of train and val, and its training.
    assert encoder.views == head.views + 2 * (40_000 + 4_500)
    assert encoder.fixed_s == pytest.approx(head.fixed_s + HEAD_SHARE * 600.0)
    # Without TTA the cached features serve the kNN; without validation there is neither
    # kNN nor t-SNE; with tsne off, no t-SNE.
    _, plain = reserves(
        plan, n_train_eval=5_000, end=0.0, n_val=4_500, n_test=5_000, views=1, tsne=True
    )
    assert plain is not None and plain.views == 5_000
    _, unvalidated = reserves(
        plan, n_train_eval=5_000, end=0.0, n_val=0, n_test=5_000, views=2, tsne=True
    )
    assert unvalidated is not None and unvalidated.views == 2 * 5_000
    assert unvalidated.fixed_s == ARTIFACTS_S
    _, few = reserves(
        plan, n_train_eval=5_000, end=0.0, n_val=200, n_test=5_000, views=2, tsne=True
    )
    assert few is not None and few.fixed_s == pytest.approx(ARTIFACTS_S + TSNE_S * 200 / 2_000)
    _, quiet = reserves(
        plan, n_train_eval=5_000, end=0.0, n_val=4_500, n_test=5_000, views=2, tsne=False
    )
    assert quiet is not None and quiet.fixed_s == ARTIFACTS_S


def test_the_plans_share_decides_before_an_image_stage_and_without_a_budget() -> None:
    plan = _plan(CONTRASTIVE_FINETUNE)
    encoder, finetune = reserves(
        plan, n_train_eval=5_000, end=0.0, n_val=100, n_test=100, views=1, tsne=True
    )
    assert encoder is None  # the fine-tune after it trains on images: the plan splits the time
    assert finetune is not None
    unbudgeted = _plan(FINETUNE, budget=0.0)
    assert reserves(
        unbudgeted, end=0.0, n_train_eval=100, n_val=100, n_test=100, views=1, tsne=True
    ) == [None]


def test_a_reserve_is_priced_at_the_measured_speed_with_a_safety_margin() -> None:
    reserve = Reserve(end=600.0, views=20_000, fixed_s=2.0)
    assert reserve.seconds(0.001) == pytest.approx(SAFETY * (20.0 + 2.0))
    assert reserve.deadline(0.001) == pytest.approx(600.0 - SAFETY * 22.0)
    assert reserve.deadline(0.0) == pytest.approx(600.0 - SAFETY * 2.0)
    margined = Reserve(end=600.0, views=20_000, fixed_s=2.0, margin_s=MARGIN_S)
    assert margined.seconds(0.001) == pytest.approx(SAFETY * 22.0 + MARGIN_S)


def test_the_margin_in_seconds_is_a_few_seconds_and_small_on_a_short_budget() -> None:
    sizes: dict[str, Any] = {
        "n_train_eval": 100,
        "n_val": 100,
        "n_test": 100,
        "views": 1,
        "tsne": False,
    }
    (long,) = reserves(_plan(FINETUNE, budget=900.0), end=0.0, **sizes)
    (short,) = reserves(_plan(FINETUNE, budget=30.0), end=0.0, **sizes)
    assert long is not None and short is not None
    assert long.margin_s == MARGIN_S  # a few seconds on a long budget ...
    assert short.margin_s < 0.05 * 30.0  # ... a small share of a short one


def _stage_and_context(
    n_val: int = 16, tta: TTA | None = None, head: str = "finetune"
) -> tuple[Stage, Context]:
    cfg = TrainConfig(
        epochs=1, batch_size=16, encoder_params={"width": 0.25}, budget=60.0, head=head
    )
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (64, 3, 16, 16), generator=gen, dtype=torch.uint8)
    y = torch.arange(64) % 4
    splits = Splits(list(range(4)), x, y, x[:n_val], y[:n_val])
    model = build_model(cfg, splits, torch.device("cpu"))
    setup = Setup(cfg, get_metric("accuracy"), contextlib.nullcontext, torch.Generator(), tta)
    (plan,) = make_plan(cfg, n_train=64, kinds=model.kinds).stages
    ctx = Context(cfg, None, Progress(True), None, torch.device("cpu"), contextlib.nullcontext, 0)
    return build_stage(plan, model, splits, setup), ctx


def test_the_loop_ends_a_stage_at_its_share_until_a_speed_is_measured_then_at_its_reserve() -> (
    None
):
    stage, ctx = _stage_and_context()
    stage.deadline = 540.0  # the plan's share of a 600-s budget
    stage.eval_s = 4.0
    assert _eval_aware(stage, ctx) == 540.0 - 4.0  # no speed yet: the share
    stage.reserve = Reserve(end=600.0, views=10_000, fixed_s=1.0)
    assert _eval_aware(stage, ctx) == 540.0 - 4.0
    ctx.s_per_view = 0.001
    assert _eval_aware(stage, ctx) == pytest.approx(600.0 - SAFETY * 11.0 - 4.0)
    ctx.s_per_view = 0.01  # a slow machine or a large test set: earlier than the share
    assert _eval_aware(stage, ctx) == pytest.approx(600.0 - SAFETY * 101.0 - 4.0)
    stage.deadline = None  # no budget: no deadline
    assert _eval_aware(stage, ctx) is None


def test_evaluations_report_the_forward_passes_they_made() -> None:
    stage, _ = _stage_and_context(n_val=16, tta=TTA(flip=True))
    first = stage.evaluate()
    # Fresh BatchNorm statistics on the 64 train images, then 16 val images in two views.
    assert first["views"] == min(64, ev.BN_REFRESH_IMAGES) + 2 * 16
    unvalidated, _ = _stage_and_context(n_val=0)
    assert unvalidated.evaluate()["views"] == 64  # only the BatchNorm refresh


def test_a_head_stage_on_frozen_features_measures_the_speed_of_extracting_them() -> None:
    stage, _ = _stage_and_context(head="linear-probe")
    assert stage.plan.on_features and stage.s_per_view > 0
    assert "views" not in stage.evaluate()  # its evaluations score cached features
