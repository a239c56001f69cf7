"""The optimisation loop: :func:`fit` runs one stage of a run's plan to its end.

A stage (:class:`~.stage.Stage`) is a :class:`~toolkit.train.plan.StagePlan` (how long,
which learning rate, how often to evaluate) plus what :mod:`toolkit.train.stages` built for it:
the modules and parameter groups it trains, its step (index batch -> loss), its batches and its
evaluation.
Each step sets the scheduled learning rate, adds the L2 penalty, and steps the optimiser; every
``eval_every`` steps the stage is scored, the best weights are kept (and restored at the end),
early stopping is asked, and the tuner's hook may prune the run (:class:`Pruned`). With
``config.ema`` the weights' moving average (:mod:`.ema`) is updated after each step and is what
the evaluations score and keep, until the stage's end weighs the raw weights against it. With
``config.average_last`` the weights of the stage's last N evaluations (:mod:`.averaging`) are
averaged at its end and kept only when the mean scores better on validation (this scoring is
not an evaluation: no metrics row, nothing reported to the pruner). With ``config.lookahead``
the weights are synced with their slow copy every few steps (:mod:`.lookahead`), after the
EMA's update. A stage with mixing (:mod:`.mixing`) or progressive resizing (:mod:`.resizing`)
is told its progress before each step.
The optimiser's parameter groups (frozen parameters left out, ``bias_lr_scale``) come from
:mod:`.param_groups`.

Under ``torchrun`` (:mod:`.distributed`) every rank runs the same loop on its shard of each
batch with DistributedDataParallel; rank 0 evaluates and decides, and the ranks agree on the
budget's progress, so all of them take the same steps and stop together.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
import zlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.runs import checkpoint as ckpt
from toolkit.runs.store import RunDir
from toolkit.train.averaging import WeightAverage
from toolkit.train.config import TrainConfig
from toolkit.train.distributed import ABORT, GO, STOP, wrap
from toolkit.train.ema import EMA
from toolkit.train.lookahead import Lookahead
from toolkit.train.param_groups import is_weight, param_groups
from toolkit.train.schedule import EarlyStopping, lr_factor
from toolkit.train.stage import Context, Stage
from toolkit.train.stage import Report as Report  # re-exported: the trainer's hook type

METRICS_EVERY_S = 2.0  # metrics.csv is rewritten at most this often during training


class Pruned(Exception):
    """The tuner's hook asked to stop this run: it is recorded as pruned, not failed."""


def fit(stage: Stage, ctx: Context) -> None:
    """Optimise one stage until its epochs/iterations/budget end or early stopping fires."""
    cfg = ctx.config
    optimizer = make_optimizer(cfg, stage)
    stopper = EarlyStopping(cfg.early_stopping, cfg.patience)
    gen = torch.Generator().manual_seed(cfg.seed + zlib.crc32(stage.name.encode()) % 99991)
    total, eval_every = stage.plan.steps, stage.plan.eval_every
    weights = [p for m in stage.modules for p in m.parameters() if is_weight(p)]
    ctx.progress.stage(stage.name)
    if stage.s_per_view > 0:  # a head stage's feature extraction measured the forward speed
        ctx.s_per_view = stage.s_per_view
    for m in stage.modules:
        m.train()
    step_fn = stage.step
    if ctx.world.distributed:  # each rank steps on its shard; DDP averages the gradients
        params = [p for ps, _ in stage.groups for p in ps]
        step_fn = wrap(stage.modules, params, stage.step, ctx.world, ctx.device)
    # Rank 0 evaluates, so it alone keeps the averages (DDP keeps the ranks' weights equal).
    main = ctx.world.is_main
    stage.ema = EMA(stage.modules, cfg.ema) if cfg.ema > 0 and main else None
    averaging = cfg.average_last >= 2
    stage.average = WeightAverage(stage.modules, cfg.average_last) if averaging and main else None
    # Every rank syncs alike, so DDP's ranks keep equal weights.
    lookahead = Lookahead(stage.modules, cfg.lookahead) if cfg.lookahead > 0 else None
    try:
        _loop(stage, ctx, optimizer, stopper, gen, total, eval_every, weights, step_fn, lookahead)
        # At the end, each on validation: the last raw weights against the best EMA weights,
        # then the mean of the last evaluations' weights against the best kept so far.
        choices = [_raw_or_ema] if cfg.ema > 0 else []
        choices += [_average_or_best] if averaging else []
        for choice in choices:
            keep = functools.partial(choice, stage, ctx)
            if ctx.world.distributed:
                _decided_on_rank0(stage, ctx, keep)
            else:
                keep()
    finally:  # also on Ctrl-C or pruning: leave the best weights in the modules
        if stage.best_state is not None:
            _restore(stage.modules, stage.best_state)
    if ctx.world.distributed:  # only rank 0 kept the best weights: every rank takes them
        ctx.world.sync_state(stage.modules)


def _loop(
    stage: Stage,
    ctx: Context,
    optimizer: torch.optim.Optimizer,
    stopper: EarlyStopping,
    gen: torch.Generator,
    total: int,
    eval_every: int,
    weights: list[nn.Parameter],
    step_fn: Callable[[torch.Tensor], torch.Tensor],
    lookahead: Lookahead | None = None,
) -> None:
    cfg = ctx.config
    world = ctx.world
    # Under a budget the progress is read off each rank's clock: the ranks take the largest,
    # so all of them agree on the learning rate and on the last step.
    agree = world.distributed and stage.deadline is not None
    start, step, epoch = time.perf_counter(), 0, 0

    def progress_now() -> float:
        done = _progress(step, total, start, _eval_aware(stage, ctx), stage.plan.fixed_length)
        return world.agree_max(done) if agree else done

    while True:
        epoch += 1
        batches_seen = 0
        # Losses are summed on the device: no host sync per step (matters on CUDA).
        loss_sum, loss_n, images, t_train = torch.zeros((), device=ctx.device), 0, 0, 0.0
        t_step = time.perf_counter()
        for idx in stage.batches(gen):
            progress = progress_now()
            factor = lr_factor(progress, cfg.warmup, cfg.schedule)
            ctx.lr = stage.plan.lr * factor
            for group in optimizer.param_groups:
                group["lr"] = stage.plan.lr * group["lr_scale"] * factor
            if stage.mixing is not None:
                stage.mixing.progress = progress
            if stage.resizing is not None:
                stage.resizing.progress = progress
            loss = step_fn(idx)
            if stage.plan.l2 > 0:
                loss = loss + stage.plan.l2 * sum((w.float() ** 2).sum() for w in weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if stage.ema is not None:
                stage.ema.update()
            if lookahead is not None:
                lookahead.update()
            step += 1
            batches_seen += 1
            ctx.steps += 1
            images += len(idx)
            ctx.images += len(idx)
            loss_sum += loss.detach().float()
            loss_n += 1
            progress = progress_now()
            last = progress >= 1.0
            if step % eval_every != 0 and not last:
                continue
            t_train += time.perf_counter() - t_step
            if world.distributed:  # the global batch's loss, the same on every rank
                loss_sum = world.mean(loss_sum)
            mean_loss = float(loss_sum) / max(loss_n, 1)
            if not math.isfinite(mean_loss):
                raise ToolkitError(
                    f"training diverged in stage '{stage.name}' (loss is {mean_loss}); "
                    "lower the learning rate (--set lr=...) or the L2 lambda."
                )
            speed = images / max(t_train, 1e-9)
            evaluate = functools.partial(
                _evaluate, stage, ctx, stopper, epoch, step, mean_loss, speed, progress
            )
            stop = _decided_on_rank0(stage, ctx, evaluate) if world.distributed else evaluate()
            if stop or last:
                return
            loss_sum.zero_()
            loss_n = 0
            t_step = time.perf_counter()
        if batches_seen == 0:
            raise ToolkitError(f"stage '{stage.name}' has no batches; the train split is empty.")


def _evaluate(
    stage: Stage,
    ctx: Context,
    stopper: EarlyStopping,
    epoch: int,
    step: int,
    mean_loss: float,
    speed: float,
    progress: float,
) -> bool:
    """Score the stage, keep the best weights, log and report; True when early stopping fires.

    With an EMA its weights are the ones scored and kept (:func:`_raw_or_ema` weighs the raw
    ones at the stage's end); with ``average_last`` the weights scored are also snapshotted
    for the stage's average (:func:`_average_or_best`).
    """
    t_eval = time.perf_counter()
    stop = False
    with stage.ema.applied() if stage.ema is not None else contextlib.nullcontext():
        metrics = stage.evaluate()
        views = metrics.pop("views", 0)  # forward passes it made: prices the budget's reserve
        if metrics["score"] is not None:  # None: no validation split; the last weights are kept
            stop = stopper.update(metrics["score"])
            if stopper.improved:
                stage.best_score = metrics["score"]
                stage.best_state = _snapshot(stage.modules)
        elif stage.ema is not None:  # the last EMA weights, as there is nothing to compare
            stage.best_state = _snapshot(stage.modules)
        if stage.average is not None:
            stage.average.add()
    stage.eval_s = time.perf_counter() - t_eval
    if views > 0:
        ctx.s_per_view = stage.eval_s / views
    for m in stage.modules:
        m.train()
    _log(ctx, stage, epoch, step, mean_loss, speed, metrics)
    value = metrics.get("value", metrics["score"])
    shown = metrics["score"] if value is None else value
    ctx.progress.update(progress, epoch=epoch, loss=mean_loss, val=shown, img_s=speed)
    if ctx.report is not None and value is not None and ctx.report(ctx.evals, value):
        raise Pruned(f"pruned at evaluation {ctx.evals} (score {value:.4f})")
    return stop


def _raw_or_ema(stage: Stage, ctx: Context) -> bool:
    """At the end of a stage with an EMA: score its last raw weights on validation and keep
    them if they beat the best EMA weights; record the choice in ``ctx.ema``. Returns False
    (for :func:`_decided_on_rank0`: nothing to stop)."""
    assert stage.ema is not None
    record: dict[str, Any] = {"decay": stage.ema.decay, "kept": "ema"}
    if stage.best_state is not None and math.isfinite(stage.best_score):  # scored: compare
        raw = stage.evaluate()["score"]
        for m in stage.modules:
            m.train()
        record.update(ema_score=stage.best_score, raw_score=raw)
        if raw is not None and raw > stage.best_score:
            stage.best_score = raw
            stage.best_state = _snapshot(stage.modules)
            record["kept"] = "raw"
    ctx.ema[stage.name] = record
    return False


def _average_or_best(stage: Stage, ctx: Context) -> bool:
    """At the end of a stage with ``average_last``: the mean of its last evaluations' weights
    against the best kept (:meth:`~.averaging.WeightAverage.weigh`), recorded in
    ``ctx.averaging``. No evaluation: no metrics row, no report to the pruner. Returns False
    (for :func:`_decided_on_rank0`: nothing to stop)."""
    assert stage.average is not None
    record, state = stage.average.weigh(
        lambda: stage.evaluate()["score"], stage.best_score, lambda: _snapshot(stage.modules)
    )
    for m in stage.modules:
        m.train()
    if state is not None:
        stage.best_state = state
        stage.best_score = record.get("average_score", stage.best_score)
    ctx.averaging[stage.name] = record
    return False


def _decided_on_rank0(stage: Stage, ctx: Context, evaluate: Callable[[], bool]) -> bool:
    """Under DDP: rank 0 evaluates and decides, the other ranks wait for its decision.

    The ranks hold the same weights (DDP keeps them equal), so one evaluation speaks for all;
    an error on rank 0 (or a pruned trial) stops every rank instead of leaving them waiting.
    """
    world = ctx.world
    code = GO
    if world.is_main:
        try:
            stop = evaluate()
        except Exception:
            world.decide(ABORT)
            raise
        code = STOP if stop else GO
    code = world.decide(code)
    if code == ABORT:
        raise ToolkitError(f"rank 0 stopped stage '{stage.name}' with an error (see its output).")
    return code == STOP


def _eval_aware(stage: Stage, ctx: Context) -> float | None:
    """The deadline for training steps: early enough for the stage's last evaluation and the
    end's scorings to fit (the raw weights' with an EMA, the average's with ``average_last``),
    and then what follows the stage: its reserve priced at the measured forward speed once
    an evaluation has measured it (:mod:`.reserve`), else the plan's share of the budget."""
    if stage.deadline is None:
        return None
    end = stage.deadline
    if stage.reserve is not None and ctx.s_per_view > 0:
        end = stage.reserve.deadline(ctx.s_per_view)
    evals = 1 + (stage.ema is not None) + (stage.average is not None)
    return end - evals * stage.eval_s


def _progress(
    step: int, total: int, start: float, deadline: float | None, fixed_length: bool = False
) -> float:
    """Fraction of the stage done: by steps, by time under a budget, or the larger of both."""
    by_steps = step / total
    if deadline is None:
        return by_steps
    by_time = (time.perf_counter() - start) / max(deadline - start, 1e-9)
    return max(by_steps, by_time) if fixed_length else by_time


def make_optimizer(cfg: TrainConfig, stage: Stage) -> torch.optim.Optimizer:
    """The optimiser ``cfg`` names over the stage's parameter groups (each with its lr scale;
    the loop sets the scheduled lr before every step). Also used by the LR finder and the
    autosize probe, so both time and sweep exactly what training runs."""
    lr = stage.plan.lr
    groups = param_groups(stage.groups, lr, cfg.weight_decay, cfg.bias_lr_scale)
    if not groups:
        raise ToolkitError(f"stage '{stage.name}' has no trainable parameters.")
    if cfg.optimizer == "sgd":
        cls: type[torch.optim.Optimizer] = torch.optim.SGD
        options: dict[str, Any] = {"momentum": cfg.momentum, "nesterov": True}
    else:
        cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
        options = {"betas": (cfg.momentum, 0.999)}
    options.update(lr=lr)  # and each group's weight decay
    try:
        # One fused kernel for all parameters: on the CPU, Adam on convnet4's 33M-weight
        # layer takes 33 ms a step fused against 220 ms unfused (2 cores).
        return cls(groups, fused=True, **options)
    except (RuntimeError, TypeError, ValueError):  # an older torch, or an unsupported device
        return cls(groups, **options)


def _snapshot(modules: list[nn.Module]) -> dict[str, torch.Tensor]:
    return {
        f"{i}.{k}": v.detach().clone()
        for i, m in enumerate(modules)
        for k, v in m.state_dict().items()
    }


def _restore(modules: list[nn.Module], state: dict[str, torch.Tensor]) -> None:
    for i, m in enumerate(modules):
        prefix = f"{i}."
        m.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})


def _log(
    ctx: Context,
    stage: Stage,
    epoch: int,
    step: int,
    loss: float,
    speed: float,
    metrics: dict[str, Any],
) -> None:
    ctx.evals += 1
    row = {
        "eval": ctx.evals,
        "stage": stage.name,
        "epoch": epoch,
        "step": step,
        "time_s": round(time.perf_counter() - ctx.t0, 3),
        "lr_peak": stage.plan.lr,
        "lr": ctx.lr,
        "train_loss": loss,
        "images_per_s": round(speed, 1),
        **metrics,
    }
    ctx.rows.append(row)
    if ctx.events is not None:
        ctx.events.add_row(row)
    flush_metrics(ctx)


def flush_metrics(ctx: Context, *, force: bool = False) -> None:
    """Rewrite metrics.csv (atomically) and flush the TensorBoard log, at most every
    METRICS_EVERY_S unless ``force``."""
    now = time.perf_counter()
    if ctx.run is not None and (force or now - ctx.metrics_written >= METRICS_EVERY_S):
        ctx.run.write_metrics(ctx.rows)
        ctx.metrics_written = now
        if ctx.events is not None:
            ctx.events.flush()


def save_best(run: RunDir, encoder: nn.Module, head: nn.Module, meta: dict[str, Any]) -> str:
    """Save the (already restored) best encoder and head; return the weights' sha256."""
    return ckpt.save(run, ckpt.state_tensors(_unwrap(encoder), _unwrap(head)), meta)


def _unwrap(module: nn.Module) -> nn.Module:
    return getattr(module, "_orig_mod", module)
