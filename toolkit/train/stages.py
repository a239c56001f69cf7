"""From a stage of the plan to a runnable :class:`~toolkit.train.loop.Stage`.

Three kinds of stage, as :mod:`toolkit.train.plan` decides them:

- ``encoder``: the embedding loss on the encoder's outputs, scored by kNN accuracy;
- ``finetune``: head(encoder(images)) end to end, scored by the competition's metric;
- ``head``: the head alone on features the frozen encoder extracts once (cached in ``splits``).

Steps and evaluations are plain functions bound with :func:`functools.partial`. A stage on
images with ``flip_mode = alternate`` shares one :class:`~.batches.AlternatingFlips` between
its batches (which start each epoch) and its step (which flips by image index).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from toolkit.train import evaluate as ev
from toolkit.train.batches import AlternatingFlips, augment, balanced_batches, shuffled_batches
from toolkit.train.config import TrainConfig
from toolkit.train.loop import Stage
from toolkit.train.mixing import Mixing
from toolkit.train.parts import Model, Splits
from toolkit.train.plan import StagePlan
from toolkit.train.resizing import ProgressiveResize
from toolkit.train.tta import TTA, view_count

if TYPE_CHECKING:
    from toolkit.metrics import Metric

KNN_SAMPLES = 4096  # train images embedded for the kNN score during training


@dataclass(frozen=True)
class Setup:
    """What every step needs besides the model and the data."""

    config: TrainConfig
    metric: Metric  # the competition's metric (scores the head stages)
    autocast: Callable[[], Any]  # mixed-precision context factory (bf16 on CUDA)
    augment_generator: torch.Generator  # this rank's random draws for augmentation
    tta: TTA | None = None  # the views evaluations average (validation_tta of the config)


def build_stage(plan: StagePlan, model: Model, splits: Splits, setup: Setup) -> Stage:
    """The runnable stage for ``plan``."""
    if plan.name == "encoder":
        return _encoder_stage(plan, model, splits, setup)
    if plan.on_features:
        return _head_stage(plan, model, splits, setup)
    return _finetune_stage(plan, model, splits, setup)


def _encoder_stage(plan: StagePlan, model: Model, splits: Splits, setup: Setup) -> Stage:
    encoder = model.encoder
    loss_params = list(model.loss.parameters()) if isinstance(model.loss, torch.nn.Module) else []
    flips = _flips(setup.config, len(splits.y_train))
    resizing = _resizing(setup.config)
    return Stage(
        plan=plan,
        modules=[encoder],
        groups=[(list(encoder.parameters()), 1.0), (loss_params, 1.0)],
        step=functools.partial(_image_step, model, splits, setup, None, flips, resizing),
        batches=functools.partial(_batches, plan, splits.y_train, flips),
        evaluate=functools.partial(_knn_scores, model, splits, setup),
        resizing=resizing,
    )


def _finetune_stage(plan: StagePlan, model: Model, splits: Splits, setup: Setup) -> Stage:
    encoder, head = model.encoder, model.head
    cfg = setup.config
    mixing = Mixing(cfg.mixup, cfg.cutmix, setup.augment_generator)
    flips = _flips(cfg, len(splits.y_train))
    resizing = _resizing(cfg)
    return Stage(
        plan=plan,
        modules=[encoder, head],
        groups=[
            (list(encoder.parameters()), plan.encoder_lr_scale),
            (list(head.parameters()), 1.0),
        ],
        step=functools.partial(_image_step, model, splits, setup, mixing, flips, resizing),
        batches=functools.partial(_batches, plan, splits.y_train, flips),
        evaluate=functools.partial(_image_scores, model, splits, setup),
        mixing=mixing,
        resizing=resizing,
    )


def _head_stage(plan: StagePlan, model: Model, splits: Splits, setup: Setup) -> Stage:
    """Freeze the encoder and extract its features once; the head trains on them."""
    tta = setup.tta
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    t0 = time.perf_counter()
    for split, x in (("train", splits.x_train), ("val", splits.x_val)):
        splits.features[split] = ev.embed(
            model.forward_encoder, x, model.normalizer, tta=tta, autocast=setup.autocast
        )
    views = view_count(tta) * (len(splits.y_train) + len(splits.y_val))
    return Stage(
        plan=plan,
        modules=[model.head],
        groups=[(list(model.head.parameters()), 1.0)],
        step=functools.partial(_feature_step, model, splits),
        batches=functools.partial(_batches, plan, splits.y_train, None),
        evaluate=functools.partial(_feature_scores, model, splits, setup),
        s_per_view=(time.perf_counter() - t0) / max(views, 1),  # its evaluations make none
    )


# -- steps: an index batch of the train split -> the loss ------------------------------------


def _flips(cfg: TrainConfig, n: int) -> AlternatingFlips | None:
    """The stage's alternating flips of its ``n`` train images, or None (random flips)."""
    return AlternatingFlips(n, cfg.seed) if cfg.flip and cfg.flip_mode == "alternate" else None


def _resizing(cfg: TrainConfig) -> ProgressiveResize | None:
    """The stage's progressive resizing, or None (``progressive_resize = 0``)."""
    if cfg.progressive_resize <= 0:
        return None
    return ProgressiveResize(cfg.progressive_resize, cfg.progressive_until)


def _image_step(
    model: Model,
    splits: Splits,
    setup: Setup,
    mixing: Mixing | None,
    flips: AlternatingFlips | None,
    resizing: ProgressiveResize | None,
    idx: torch.Tensor,
) -> torch.Tensor:
    """The embedding loss on encoder outputs (``mixing`` None: the encoder stage), or the
    head's loss on head(encoder(images)), on mixed images while ``mixing`` is active; early
    batches smaller while ``resizing`` says so."""
    cfg = setup.config
    xb = model.normalizer(splits.x_train[idx])
    mask = None if flips is None else flips.mask(idx)
    xb = augment(xb, cfg.crop_pad, cfg.flip, setup.augment_generator, cfg.rrc_scale, mask)
    if resizing is not None:
        xb = resizing(xb)
    if mixing is None:
        with setup.autocast():
            out = model.forward_encoder(xb)
        return model.loss(out.float(), splits.y_train[idx])
    mixed = mixing(xb, splits.y_train[idx])
    with setup.autocast():
        out = model.head(model.forward_encoder(mixed.x))
    return mixed.loss(model.head_loss, out.float())


def _feature_step(model: Model, splits: Splits, idx: torch.Tensor) -> torch.Tensor:
    logits = model.head(splits.features["train"][idx])
    return model.head_loss(logits.float(), splits.y_train[idx])


def _batches(
    plan: StagePlan, labels: torch.Tensor, flips: AlternatingFlips | None, gen: torch.Generator
) -> Iterator[torch.Tensor]:
    """One epoch of index batches: class-balanced (P x K) or shuffled; starts the epoch of
    the stage's alternating flips."""
    if flips is not None:
        flips.next_epoch()
    if plan.balanced_batches:
        return balanced_batches(labels, plan.batch_size, gen, plan.steps_per_epoch)
    return shuffled_batches(len(labels), plan.batch_size, gen)


# -- evaluations: {"score": higher is better, "value": the metric as reported} -----------------


def _fresh_batchnorm(model: Model, splits: Splits, setup: Setup, through_head: bool) -> int:
    """Recompute BatchNorm statistics for the current weights before scoring them; returns
    the images forwarded to do so (0: the statistics had settled)."""
    modules = [model.encoder, model.head] if through_head else [model.encoder]
    if ev.batchnorm_settled(modules):
        return 0
    # A seeded sample (the same on every rank): the train split may be sorted by class.
    gen = torch.Generator().manual_seed(setup.config.seed)
    sample = torch.randperm(len(splits.y_train), generator=gen)[: ev.BN_REFRESH_IMAGES]

    def forward(xb: torch.Tensor) -> torch.Tensor:
        out = model.forward_encoder(xb)
        return model.head(out) if through_head else out

    ev.refresh_batchnorm(
        modules,
        forward,
        splits.x_train[sample.to(splits.y_train.device)],
        model.normalizer,
        batch_size=setup.config.batch_size,
        autocast=setup.autocast,
    )
    return len(sample)


def _unscored(through_head: bool, model: Model, splits: Splits, setup: Setup) -> dict[str, Any]:
    """No validation split (val_fraction = 0): nothing to score. BatchNorm statistics are
    still refreshed, so the last weights (the ones kept) predict with settled statistics."""
    views = _fresh_batchnorm(model, splits, setup, through_head=through_head)
    return {"score": None, "value": None, "views": views}


def _knn_scores(model: Model, splits: Splits, setup: Setup) -> dict[str, Any]:
    """kNN accuracy of validation embeddings against a sample of train embeddings."""
    if len(splits.y_val) == 0:
        return _unscored(False, model, splits, setup)
    views = _fresh_batchnorm(model, splits, setup, through_head=False)
    enc, norm, autocast = model.forward_encoder, model.normalizer, setup.autocast
    sub = torch.arange(min(len(splits.y_train), KNN_SAMPLES), device=splits.y_train.device)
    f_tr = ev.embed(enc, splits.x_train[sub], norm, autocast=autocast)
    f_va = ev.embed(enc, splits.x_val, norm, autocast=autocast)
    acc = ev.knn_accuracy(
        f_tr, splits.y_train[sub], f_va, splits.y_val, splits.num_classes, setup.config.knn_k
    )
    # The pruner compares values in the metric's direction: kNN accuracy speaks for the
    # encoder stage only when the metric is maximised too.
    value = acc if setup.metric.direction == "maximize" else None
    views += len(sub) + len(splits.y_val)
    return {"score": acc, "value": value, "val_knn_acc": acc, "views": views}


def _image_scores(model: Model, splits: Splits, setup: Setup) -> dict[str, Any]:
    if len(splits.y_val) == 0:
        return _unscored(True, model, splits, setup)
    views = _fresh_batchnorm(model, splits, setup, through_head=True)
    f_va = ev.embed(
        model.forward_encoder,
        splits.x_val,
        model.normalizer,
        tta=setup.tta,
        autocast=setup.autocast,
    )
    logits = ev.head_logits(model.head, f_va)
    views += view_count(setup.tta) * len(splits.y_val)
    return ev.scores(model.head_loss, logits, splits.y_val, setup.metric) | {"views": views}


def _feature_scores(model: Model, splits: Splits, setup: Setup) -> dict[str, Any]:
    if len(splits.y_val) == 0:
        return {"score": None, "value": None}
    logits = ev.head_logits(model.head, splits.features["val"])
    return ev.scores(model.head_loss, logits, splits.y_val, setup.metric)
