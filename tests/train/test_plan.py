"""The run's plan: stages, lengths, evaluations and budget shares, decided without torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from toolkit.train.config import TrainConfig
from toolkit.train.plan import (
    ENCODER_SHARE,
    PRETRAINED_LR_SCALE,
    TRAIN_SHARE,
    Kinds,
    make_plan,
)

LOGITS_FINETUNE = Kinds(embedding_loss=False, balanced_batches=False, trains_encoder=True)
LOGITS_PROBE = Kinds(embedding_loss=False, balanced_batches=False, trains_encoder=False)
EMBEDDING_PROBE = Kinds(embedding_loss=True, balanced_batches=True, trains_encoder=False)
EMBEDDING_FINETUNE = Kinds(embedding_loss=True, balanced_batches=True, trains_encoder=True)


def test_plan_module_does_not_import_torch() -> None:
    code = "import sys, toolkit.train.plan; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_finetune_is_one_stage_evaluated_every_epoch() -> None:
    cfg = TrainConfig(epochs=3, batch_size=100, lr=0.01, l2=0.5)
    plan = make_plan(cfg, n_train=1000, kinds=LOGITS_FINETUNE)
    (stage,) = plan.stages
    assert stage.name == "finetune" and stage.trains_encoder and stage.trains_head
    assert stage.steps_per_epoch == 10 and stage.steps == 30 and stage.evaluations == 3
    assert stage.lr == 0.01 and stage.l2 == 0.5 and stage.encoder_lr_scale == 1.0
    assert not stage.balanced_batches and not stage.on_features
    assert plan.evaluations == 3 and stage.budget_share is None


def test_iterations_and_eval_every_set_the_length() -> None:
    cfg = TrainConfig(iterations=25, eval_every=10, batch_size=100)
    (stage,) = make_plan(cfg, n_train=1000, kinds=LOGITS_FINETUNE).stages
    assert stage.steps == 25 and stage.evaluations == 3  # at 10, 20 and the last step


def test_fractional_epochs_round_up_to_a_step() -> None:
    cfg = TrainConfig(epochs=0.05, batch_size=100)
    (stage,) = make_plan(cfg, n_train=1000, kinds=LOGITS_FINETUNE).stages
    assert stage.steps == 1 and stage.evaluations == 1


def test_a_probe_trains_on_features_with_the_head_settings() -> None:
    cfg = TrainConfig(head_epochs=4, head_batch_size=50, head_lr=0.2, l2=0.1)
    (stage,) = make_plan(cfg, n_train=1000, kinds=LOGITS_PROBE).stages
    assert stage.name == "head" and stage.on_features and not stage.trains_encoder
    assert stage.steps_per_epoch == 20 and stage.evaluations == 4
    assert stage.lr == 0.2 and stage.l2 == 0.1 and stage.fixed_length


def test_embedding_runs_train_the_encoder_first_then_the_head() -> None:
    cfg = TrainConfig(
        loss="triplet", epochs=2, head_epochs=5, batch_size=100, lr=0.01, head_lr=0.3, l2=0.2
    )
    plan = make_plan(cfg, n_train=1000, kinds=EMBEDDING_PROBE)
    encoder, head = plan.stages
    assert encoder.name == "encoder" and encoder.balanced_batches and not encoder.trains_head
    assert encoder.evaluations == 2 and encoder.lr == 0.01 and encoder.l2 == 0.2
    assert head.name == "head" and head.evaluations == 5 and head.l2 == 0.0
    assert plan.evaluations == 7


def test_finetune_after_an_embedding_stage_uses_the_head_settings() -> None:
    cfg = TrainConfig(loss="supcon", iterations=7, head_epochs=2, batch_size=100, head_lr=0.05)
    _, finetune = make_plan(cfg, n_train=1000, kinds=EMBEDDING_FINETUNE).stages
    assert finetune.name == "finetune" and finetune.iterations == 0
    assert finetune.epochs == 2 and finetune.lr == 0.05 and finetune.evaluations == 2


def test_encoder_lr_scale_is_automatic_for_pretrained_weights() -> None:
    pretrained = Kinds(False, False, True, pretrained=True)
    (stage,) = make_plan(TrainConfig(), n_train=1000, kinds=pretrained).stages
    assert stage.encoder_lr_scale == PRETRAINED_LR_SCALE
    cfg = TrainConfig(encoder_lr_scale=0.5)
    (stage,) = make_plan(cfg, n_train=1000, kinds=pretrained).stages
    assert stage.encoder_lr_scale == 0.5


def test_under_a_budget_stages_end_at_their_share_and_evaluations_are_unknown() -> None:
    cfg = TrainConfig(loss="triplet", budget=60)
    plan = make_plan(cfg, n_train=1000, kinds=EMBEDDING_PROBE)
    assert [s.budget_share for s in plan.stages] == [ENCODER_SHARE, TRAIN_SHARE]
    assert plan.evaluations is None


@pytest.mark.parametrize("n_train", [0, 1, 99])
def test_a_train_split_smaller_than_a_batch_still_plans_a_step(n_train: int) -> None:
    (stage,) = make_plan(
        TrainConfig(batch_size=100), n_train=n_train, kinds=LOGITS_FINETUNE
    ).stages
    assert stage.steps_per_epoch == 1 and stage.steps >= 1
