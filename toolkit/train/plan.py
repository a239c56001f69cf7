"""A run's plan: its stages, and for each what it trains, for how long, how often it is scored.

The plan is computed here and only here, from the config, the size of the train split and what
the plugins are (:class:`Kinds`), without torch. The training loop executes it
(:mod:`toolkit.train.trainer`); the pruner asks it how many evaluations a trial makes
(:func:`planned_evaluations`) instead of re-deriving the loop's arithmetic.

A run has one or two stages:

- an embedding loss (triplet, supcon) first trains the encoder alone in stage ``encoder``,
  scored by kNN accuracy; the head stage then uses :data:`HEAD_STAGE_LOSS` and the ``head_*``
  settings;
- the head stage is ``finetune`` when the head trains the encoder (end to end, on images),
  else ``head`` (on features the frozen encoder extracts once).

Under a wall-clock budget each stage ends at its share of the budget (the encoder stage at
:data:`ENCODER_SHARE`, all training at :data:`TRAIN_SHARE`; the rest is kept for the final
evaluation and the artifacts) until an evaluation has measured the forward speed; then at the
reserve :mod:`toolkit.train.reserve` prices for what follows it. The number of evaluations is
the clock's: not known ahead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

if TYPE_CHECKING:
    from toolkit.data import Competition
    from toolkit.train.config import TrainConfig

HEAD_STAGE_LOSS = "softmax-ce"  # how heads are trained after an embedding loss
ENCODER_SHARE = 0.8  # share of the budget at which an embedding run's encoder stage ends
TRAIN_SHARE = 0.9  # share of the budget at which all training ends
PRETRAINED_LR_SCALE = 0.1  # encoder lr / head lr when fine-tuning pretrained weights

StageName = Literal["encoder", "finetune", "head"]


@dataclass(frozen=True)
class Kinds:
    """What the run's plugins are, as far as the plan cares (read from their contracts)."""

    embedding_loss: bool  # the loss consumes embeddings: an encoder stage comes first
    balanced_batches: bool  # that loss wants P x K class-balanced batches
    trains_encoder: bool  # the head trains end to end with the encoder
    pretrained: bool = False  # the encoder starts from pretrained weights (slower encoder lr)


@dataclass(frozen=True)
class StagePlan:
    """One optimisation stage, fully decided before it runs."""

    name: StageName  # shown in the progress bar and metrics.csv
    trains_encoder: bool  # the encoder's weights move in this stage
    trains_head: bool  # the head's weights move (not in the encoder stage)
    on_features: bool  # the head trains on cached features of the frozen encoder
    balanced_batches: bool  # P x K class-balanced batches instead of shuffled ones
    batch_size: int  # images (or feature rows) per step
    steps_per_epoch: int  # batches in one pass over the train split
    epochs: float  # passes over the train split, unless `iterations` is set
    iterations: int  # > 0: exactly this many steps
    eval_every: int  # steps between evaluations (and after the last step)
    lr: float  # peak learning rate of the stage
    encoder_lr_scale: float  # encoder lr = lr * this (stages that train the encoder)
    l2: float  # lambda of the L2 penalty on the trained weight matrices
    budget_share: float | None  # the stage ends at this share of the run's budget; None: none
    fixed_length: bool  # epochs/iterations set the length even under a budget (it only caps)

    @property
    def steps(self) -> int:
        """Optimisation steps when the length is not the clock's."""
        return self.iterations or max(1, math.ceil(self.epochs * self.steps_per_epoch))

    @property
    def evaluations(self) -> int:
        """Evaluations at that length: every ``eval_every`` steps and after the last step."""
        return math.ceil(self.steps / self.eval_every)


@dataclass(frozen=True)
class Plan:
    """The stages of a run, in order, and the budget they share."""

    stages: tuple[StagePlan, ...]
    budget: float  # wall-clock seconds for the whole run; 0 = none
    n_train: int  # images in the train split

    @property
    def evaluations(self) -> int | None:
        """Evaluations (pruner reports) to the end of the run; ``None`` under a budget."""
        if self.budget > 0:
            return None
        return sum(stage.evaluations for stage in self.stages)


def make_plan(config: TrainConfig, *, n_train: int, kinds: Kinds) -> Plan:
    """The plan of ``config`` for a train split of ``n_train`` images and plugins ``kinds``."""
    cfg = config
    steps_per_epoch = max(1, n_train // cfg.batch_size)
    stages: list[StagePlan] = []
    if kinds.embedding_loss:
        stages.append(
            _stage(
                "encoder",
                cfg,
                steps_per_epoch,
                balanced_batches=kinds.balanced_batches,
                epochs=cfg.epochs,
                iterations=cfg.iterations,
                lr=cfg.lr,
                l2=cfg.l2,
                share=ENCODER_SHARE,
            )
        )
    # After an embedding stage the head stage is trained with the head_* settings and no L2.
    after = kinds.embedding_loss
    l2 = 0.0 if after else cfg.l2
    if kinds.trains_encoder:
        auto_scale = PRETRAINED_LR_SCALE if kinds.pretrained else 1.0
        stages.append(
            _stage(
                "finetune",
                cfg,
                steps_per_epoch,
                epochs=cfg.head_epochs if after else cfg.epochs,
                iterations=0 if after else cfg.iterations,
                lr=cfg.head_lr if after else cfg.lr,
                l2=l2,
                encoder_lr_scale=cfg.encoder_lr_scale or auto_scale,
            )
        )
    else:
        stages.append(
            _stage(
                "head",
                cfg,
                max(1, n_train // cfg.head_batch_size),
                batch_size=cfg.head_batch_size,
                epochs=cfg.head_epochs,
                iterations=cfg.head_iterations,
                lr=cfg.head_lr,
                l2=l2,
            )
        )
    return Plan(stages=tuple(stages), budget=cfg.budget, n_train=n_train)


def _stage(
    name: StageName,
    cfg: TrainConfig,
    steps_per_epoch: int,
    *,
    epochs: float,
    iterations: int,
    lr: float,
    l2: float,
    batch_size: int = 0,
    balanced_batches: bool = False,
    encoder_lr_scale: float = 1.0,
    share: float = TRAIN_SHARE,
) -> StagePlan:
    """One stage; what it trains follows from its name (see the module's docstring)."""
    head = name == "head"
    return StagePlan(
        name=name,
        trains_encoder=not head,
        trains_head=name != "encoder",
        on_features=head,
        balanced_batches=balanced_batches,
        batch_size=batch_size or cfg.batch_size,
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        iterations=iterations,
        eval_every=cfg.eval_every or steps_per_epoch,
        lr=lr,
        encoder_lr_scale=0.0 if head else encoder_lr_scale,
        l2=l2,
        budget_share=share if cfg.budget > 0 else None,
        fixed_length=head,  # a probe trains its epochs; a budget only caps them
    )


def train_split_size(config: TrainConfig, comp: Competition) -> tuple[int, int]:
    """(images in the train split, number of classes) of ``config`` on ``comp``; labels only.

    Pseudo-labelled test images count: their source's probabilities (or CSV) are read, no image.
    """
    from toolkit.data import class_subset
    from toolkit.train.pseudo import pseudo_count

    _, y, classes = class_subset(comp, config.classes)
    train_idx, _ = config.split(y, classes)
    return len(train_idx) + pseudo_count(config, comp), len(classes)


def plugin_kinds(config: TrainConfig, num_classes: int) -> Kinds:
    """:class:`Kinds` of ``config``'s loss and head, read from their contracts.

    The loss and head are built (cheap: no encoder); a head is built with a placeholder input
    width, since only its ``trains_encoder`` is read. Pretrained weights are the encoder's
    parameters' business and do not change the plan's length, so they are not looked up here.
    """
    from toolkit.registry import EmbeddingLoss, LogitLoss, heads, losses

    loss = losses.create(config.loss, num_classes=num_classes, **config.loss_params)
    embedding = loss.target == "embeddings"  # the registry checked the loss's contract
    balanced = embedding and cast("EmbeddingLoss", loss).balanced_batches
    logits = num_classes if embedding else cast("LogitLoss", loss).logits_dim(num_classes)
    head = heads.create(config.head, in_features=8, num_classes=logits, **config.head_params)
    return Kinds(embedding, balanced, head.trains_encoder)


def plan_run(config: TrainConfig, comp: Competition) -> Plan:
    """The plan of ``config`` on ``comp``, as the training loop will execute it."""
    n_train, num_classes = train_split_size(config, comp)
    return make_plan(config, n_train=n_train, kinds=plugin_kinds(config, num_classes))


def planned_evaluations(config: TrainConfig, comp: Competition) -> int | None:
    """How many evaluations (pruner reports) a run of ``config`` on ``comp`` makes to its end.

    Early stopping may end a run sooner; this is the plan without it. ``None`` under a time
    budget (its length is the clock's) or when the config cannot be planned (training then
    reports the error itself).
    """
    if config.budget > 0:
        return None
    try:
        return plan_run(config, comp).evaluations
    except Exception:  # a bad setting: train() raises it with its own message
        return None
