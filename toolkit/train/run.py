"""``train(config, competition)``: a whole run, top to bottom.

1. data: class subset, stratified validation split, uint8 tensors on the device, statistics
2. plugins: encoder, loss, head (and the head stage's loss) from the registries
3. stage ``encoder`` (embedding losses only), then the head stage (see :mod:`.loop`)
4. final evaluation: train/val/test accuracy, per-class accuracy, confusion matrix, kNN
5. artifacts: best checkpoint, probabilities, metrics, plots; the run record says how it ended

Launched by ``torchrun`` (``WORLD_SIZE > 1``), :func:`train` joins the process group first and
every rank runs steps 1-3 (the stages with DDP, see :mod:`.distributed`); a head on frozen
features, step 4 and step 5 are rank 0's alone, and only rank 0 writes anything.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from toolkit.errors import ToolkitError
from toolkit.runs import store
from toolkit.train import evaluate as ev
from toolkit.train.batches import Normalizer, augment, balanced_batches, shuffled_batches
from toolkit.train.config import TrainConfig, validate
from toolkit.train.distributed import SINGLE, World, local_device, process_group
from toolkit.train.final import final_metrics
from toolkit.train.loop import (
    Context,
    Report,
    Stage,
    describe_checkpoint,
    fit,
    flush_metrics,
    resolve_device,
    save_best,
    setup_torch,
)
from toolkit.train.progress import Progress

if TYPE_CHECKING:
    from toolkit.data import Competition

HEAD_STAGE_LOSS = "softmax-ce"  # how heads are trained after an embedding loss
KNN_SAMPLES = 4096  # train images embedded for the kNN score during training
# Under a wall-clock budget: the encoder stage of an embedding run ends at this share of it,
# all training at TRAIN_SHARE; the rest is kept for the final evaluation and the artifacts.
ENCODER_SHARE = 0.8
TRAIN_SHARE = 0.9
PRETRAINED_LR_SCALE = 0.1  # encoder lr / head lr when fine-tuning pretrained weights


@dataclasses.dataclass(frozen=True)
class RunResult:
    """How a run ended and where its files are."""

    run_id: str
    path: Path | None
    status: str  # completed | interrupted | pruned | failed
    metrics: dict[str, Any]


def train(
    config: TrainConfig,
    competition: Competition,
    *,
    runs_root: Path | None = None,
    save: bool = True,
    quiet: bool = False,
    report: Report | None = None,
    on_run: Callable[[str, str], None] | None = None,
    extra: dict[str, Any] | None = None,
) -> RunResult:
    """Train one model on ``competition`` as ``config`` says, writing a run folder.

    ``report(eval_index, score)`` is called after every evaluation (it may raise to stop the
    run, as Optuna's pruning does); ``on_run(run_id, path)`` once the run folder exists.
    Under ``torchrun`` only rank 0 writes, reports and returns metrics; the other ranks return
    a result with an empty run id, no path and no metrics once training ends.
    """
    world = World.from_env()
    if not world.distributed:
        return _train(config, competition, runs_root, save, quiet, report, on_run, extra, SINGLE)
    validate(config)  # user errors before any rank waits for another
    if config.batch_size < world.size:
        raise ToolkitError(
            f"batch_size={config.batch_size} is smaller than the {world.size} processes; each "
            "needs a share of every batch (batch_size is the global batch)."
        )
    device = local_device(resolve_device(config.device), world)
    with process_group(world, device) as joined:
        return _train(config, competition, runs_root, save, quiet, report, on_run, extra, joined)


def _train(
    config: TrainConfig,
    competition: Competition,
    runs_root: Path | None,
    save: bool,
    quiet: bool,
    report: Report | None,
    on_run: Callable[[str, str], None] | None,
    extra: dict[str, Any] | None,
    world: World,
) -> RunResult:
    from toolkit.data import select_classes, split_validation
    from toolkit.registry import encoders, heads, losses
    from toolkit.train.task import matching_competition, resolve_task

    t0 = time.perf_counter()
    validate(config)
    cfg = config
    competition = matching_competition(cfg, competition)  # the images this config asks for
    task = resolve_task(cfg, competition)  # submission shape + metric, checked before training
    metric = task.metric
    device = local_device(resolve_device(cfg.device), world)
    autocast = setup_torch(cfg, device, processes=world.local_size)

    # 1. data ------------------------------------------------------------------------------
    x_all, y_all, classes = select_classes(competition, cfg.classes)
    tr_idx, va_idx = split_validation(y_all, cfg.val_fraction, cfg.seed, names=classes)
    x_tr = torch.from_numpy(np.ascontiguousarray(x_all[tr_idx])).to(device)  # (N, C, H, W) u8
    y_tr = torch.from_numpy(y_all[tr_idx].astype(np.int64)).to(device)
    x_va = torch.from_numpy(np.ascontiguousarray(x_all[va_idx])).to(device)
    y_va = torch.from_numpy(y_all[va_idx].astype(np.int64)).to(device)
    k = len(classes)
    in_channels, image_size = int(x_all.shape[1]), int(x_all.shape[2])

    # 2. plugins ---------------------------------------------------------------------------
    encoder = encoders.create(
        cfg.encoder, in_channels=in_channels, image_size=image_size, **cfg.encoder_params
    ).to(device, memory_format=torch.channels_last)
    pretrained = getattr(encoder, "data_config", None)  # weights' statistics and input size
    norm = Normalizer.for_weights(pretrained, x_tr)
    loss_fn = losses.create(cfg.loss, num_classes=k, **cfg.loss_params)
    embedding_loss = getattr(loss_fn, "target", "logits") == "embeddings"
    if embedding_loss:
        head_loss_name = HEAD_STAGE_LOSS
        head_loss_params: dict[str, Any] = {"label_smoothing": cfg.label_smoothing}
        head_loss = losses.create(head_loss_name, num_classes=k, **head_loss_params)
    else:
        head_loss_name, head_loss_params, head_loss = cfg.loss, dict(cfg.loss_params), loss_fn
    logits_dim = head_loss.logits_dim(k)
    head = heads.create(
        cfg.head, in_features=encoder.out_dim, num_classes=logits_dim, **cfg.head_params
    ).to(device)
    trains_encoder = bool(getattr(head, "trains_encoder", False))

    def meta() -> dict[str, Any]:
        return describe_checkpoint(
            cfg,
            classes=classes,
            in_channels=in_channels,
            image_size=image_size,
            in_features=encoder.out_dim,
            logits_dim=logits_dim,
            head_loss=head_loss_name,
            head_loss_params=head_loss_params,
            normalizer=norm,
            fingerprint=competition.fingerprint,
        ) | {"image_policy": competition.image_policy, **task.record(classes)}

    model_encoder = torch.compile(encoder) if cfg.compile else encoder
    # Read head.init_from's weights now: a bad source is a user error, not a failed run.
    init_from = str(getattr(head, "init_from", "") or "") if trains_encoder else ""
    init_state = None
    if init_from:
        from toolkit.runs.checkpoint import encoder_weights

        init_state = encoder_weights(init_from)

    run = None
    if save and world.is_main:
        label = f"{_short(cfg.encoder)}-{cfg.loss}-{cfg.head}"
        run = store.create_run(
            label,
            {
                "status": "running",
                "competition": competition.name,
                "competition_path": str(competition.root),
                "format": competition.format,
                "data_fingerprint": competition.fingerprint,
                "config": cfg.to_dict(),
                "image_policy": competition.image_policy,
                **task.record(classes),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                **(extra or {}),
            },
            runs_root,
        )
        if on_run is not None:
            on_run(run.id, str(run.path))
    ctx = Context(
        cfg, run, Progress(quiet or not world.is_main), report, device, autocast, t0, world=world
    )
    deadline_total = t0 + cfg.budget if cfg.budget > 0 else None
    status, error = "failed", None
    feats: dict[str, torch.Tensor] = {}
    try:
        # 3a. stage "encoder": embedding loss on class-balanced batches, scored by kNN ------
        def embed_step(idx: torch.Tensor) -> torch.Tensor:
            xb = augment(norm(x_tr[idx]), cfg.crop_pad, cfg.flip, gen_aug, cfg.rrc_scale)
            with autocast():
                out = model_encoder(xb)
            return loss_fn(out.float(), y_tr[idx])

        def knn_eval() -> dict[str, Any]:
            sub = torch.arange(min(len(y_tr), KNN_SAMPLES), device=device)
            f_tr = ev.embed(model_encoder, x_tr[sub], norm, autocast=autocast)
            f_va = ev.embed(model_encoder, x_va, norm, autocast=autocast)
            acc = ev.knn_accuracy(f_tr, y_tr[sub], f_va, y_va, k, cfg.knn_k)
            # The pruner compares values in the metric's direction: kNN accuracy speaks for
            # the encoder stage only when the metric is maximised too.
            value = acc if metric.direction == "maximize" else None
            return {"score": acc, "value": value, "val_knn_acc": acc}

        # Each rank augments its own shard, so their random draws differ (rank 0's = one process).
        gen_aug = torch.Generator().manual_seed(cfg.seed + 7 + 7919 * world.rank)
        steps_per_epoch = max(1, len(y_tr) // cfg.batch_size)
        if embedding_loss:
            enc_deadline = _deadline(deadline_total, t0, share=ENCODER_SHARE)
            fit(
                Stage(
                    name="encoder",
                    modules=[encoder],
                    groups=[(list(encoder.parameters()), 1.0), (list(loss_fn.parameters()), 1.0)],
                    step=embed_step,
                    batches=lambda g: balanced_batches(y_tr, cfg.batch_size, g, steps_per_epoch),
                    steps_per_epoch=steps_per_epoch,
                    evaluate=knn_eval,
                    lr=cfg.lr,
                    epochs=cfg.epochs,
                    iterations=cfg.iterations,
                    batch_size=cfg.batch_size,
                    l2=float(getattr(loss_fn, "l2", 0.0)),
                    deadline=enc_deadline,
                ),
                ctx,
            )

        # 3b. head stage ----------------------------------------------------------------------
        head_l2 = float(getattr(head_loss, "l2", 0.0))
        if trains_encoder:
            if init_state is not None:
                _load_encoder(encoder, init_state, init_from)
            scale = float(getattr(head, "encoder_lr_scale", 1.0))
            if pretrained and "encoder_lr_scale" not in cfg.head_params:
                scale = PRETRAINED_LR_SCALE  # pretrained features move slower than a new head

            def finetune_step(idx: torch.Tensor) -> torch.Tensor:
                xb = augment(norm(x_tr[idx]), cfg.crop_pad, cfg.flip, gen_aug, cfg.rrc_scale)
                with autocast():
                    logits = head(model_encoder(xb))
                return head_loss(logits.float(), y_tr[idx])

            def finetune_eval() -> dict[str, Any]:
                f_va = ev.embed(model_encoder, x_va, norm, tta=cfg.tta, autocast=autocast)
                return ev.scores(head_loss, ev.head_logits(head, f_va), y_va, metric)

            # After an embedding stage, fine-tuning is a second stage with the head_* settings.
            fit(
                Stage(
                    name="finetune",
                    modules=[encoder, head],
                    groups=[(list(encoder.parameters()), scale), (list(head.parameters()), 1.0)],
                    step=finetune_step,
                    batches=lambda g: shuffled_batches(len(y_tr), cfg.batch_size, g),
                    steps_per_epoch=steps_per_epoch,
                    evaluate=finetune_eval,
                    lr=cfg.head_lr if embedding_loss else cfg.lr,
                    epochs=cfg.head_epochs if embedding_loss else cfg.epochs,
                    iterations=0 if embedding_loss else cfg.iterations,
                    batch_size=cfg.batch_size,
                    l2=head_l2,
                    deadline=_deadline(deadline_total, t0, share=TRAIN_SHARE),
                ),
                ctx,
            )
        elif world.is_main:
            # Frozen encoder: features once (cached for this run), then the head on them.
            # Under DDP rank 0 trains this cheap head alone; the other ranks are done.
            ctx.world = SINGLE
            for p in encoder.parameters():
                p.requires_grad_(False)
            feats["train"] = ev.embed(model_encoder, x_tr, norm, tta=cfg.tta, autocast=autocast)
            feats["val"] = ev.embed(model_encoder, x_va, norm, tta=cfg.tta, autocast=autocast)
            f_tr, f_va = feats["train"], feats["val"]
            head_steps = max(1, len(y_tr) // cfg.head_batch_size)

            def probe_step(idx: torch.Tensor) -> torch.Tensor:
                return head_loss(head(f_tr[idx]).float(), y_tr[idx])

            def probe_eval() -> dict[str, Any]:
                return ev.scores(head_loss, ev.head_logits(head, f_va), y_va, metric)

            fit(
                Stage(
                    name="head",
                    modules=[head],
                    groups=[(list(head.parameters()), 1.0)],
                    step=probe_step,
                    batches=lambda g: shuffled_batches(len(y_tr), cfg.head_batch_size, g),
                    steps_per_epoch=head_steps,
                    evaluate=probe_eval,
                    lr=cfg.head_lr,
                    epochs=cfg.head_epochs,
                    iterations=cfg.head_iterations,
                    batch_size=cfg.head_batch_size,
                    l2=head_l2,
                    deadline=_deadline(deadline_total, t0, share=TRAIN_SHARE),
                    fixed_length=True,  # a probe trains its epochs; the budget only caps them
                ),
                ctx,
            )
        status = "completed"
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted by the user (Ctrl-C)"
        raise
    except Exception as err:
        status = "pruned" if type(err).__name__ == "TrialPruned" else "failed"
        error = str(err) if isinstance(err, ToolkitError) else f"{type(err).__name__}: {err}"
        raise
    finally:
        ctx.progress.close()
        flush_metrics(ctx, force=True)
        if run is not None and status != "completed":
            if ctx.rows:  # keep the best weights so far loadable (each stage restored its best)
                save_best(run, encoder, head, meta())
            run.update(status=status, error=error, **_timing(ctx, t0))

    if not world.is_main:  # rank 0 evaluates and writes the run
        return RunResult("", None, "completed", {})

    # 4. final evaluation --------------------------------------------------------------------
    metrics = final_metrics(
        cfg,
        competition,
        classes,
        encoder,
        head,
        head_loss,
        norm,
        autocast,
        (x_tr, y_tr),
        (x_va, y_va),
        feats,
        embedding_loss,
        metric,
    )
    # 5. artifacts ---------------------------------------------------------------------------
    if run is not None:
        from toolkit.runs.artifacts import write_artifacts

        digest = save_best(run, encoder, head, meta())
        write_artifacts(run, ctx.rows, metrics, embedding_loss)
        run.update(
            status="completed",
            error=None,
            metrics=metrics.summary(),
            checkpoint_sha256=digest,
            **_timing(ctx, t0),
        )
    return RunResult(
        run.id if run else "", run.path if run else None, "completed", metrics.summary()
    )


def _deadline(total: float | None, t0: float, share: float) -> float | None:
    """The moment a stage must end: ``share`` of the run's budget, leaving time to finish."""
    return None if total is None else t0 + (total - t0) * share


def _load_encoder(encoder: torch.nn.Module, state: dict[str, torch.Tensor], src: str) -> None:
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ToolkitError(
            f"init_from={src}: its encoder does not match this encoder ({first}); start from a "
            "run with the same encoder and parameters."
        ) from None


def _short(name: str) -> str:
    return name.replace(":", "-").replace("/", "-")


def _timing(ctx: Context, t0: float) -> dict[str, Any]:
    return {
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "duration_s": round(time.perf_counter() - t0, 2),
        "steps": ctx.steps,
        "evaluations": ctx.evals,
        "images_seen": ctx.images,
    }
