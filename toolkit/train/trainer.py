"""``train(config, competition)``: a whole run, top to bottom.

1. set-up: the images the config asks for, the competition's submission shape and metric,
   the device, seeds and threads
2. parts: the data splits on the device, and the model (encoder, loss, head) from the registries
3. plan: the stages, their lengths and evaluations (:mod:`.plan`); then each stage is fitted
   (:mod:`.stages` builds it, :mod:`.loop` runs it)
4. final evaluation: train/val/test accuracy and metric, per-class accuracy, confusion, kNN
5. artifacts: best checkpoint, probabilities, metrics, plots; the run record says how it ended

Launched by ``torchrun`` (``WORLD_SIZE > 1``), :func:`train` joins the process group first and
every rank runs steps 1-3 (the stages with DDP, see :mod:`.distributed`); a head on frozen
features, step 4 and step 5 are rank 0's alone, and only rank 0 writes anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from toolkit import io
from toolkit.errors import ToolkitError
from toolkit.runs import store, tensorboard
from toolkit.train import autosize, mixing
from toolkit.train.config import TrainConfig, validate
from toolkit.train.device import emulated_bf16, resolve_device
from toolkit.train.distributed import SINGLE, World, local_device, process_group
from toolkit.train.final import TRAIN_EVAL_SAMPLES, final_metrics
from toolkit.train.loop import Context, Pruned, Report, fit, flush_metrics, save_best
from toolkit.train.model import preflight
from toolkit.train.parts import (
    build_model,
    init_from_data,
    initial_encoder_weights,
    load_encoder,
)
from toolkit.train.plan import make_plan
from toolkit.train.prepare import prepare
from toolkit.train.progress import Progress
from toolkit.train.reserve import Reserve, reserves
from toolkit.train.stages import build_stage
from toolkit.train.tta import view_count

if TYPE_CHECKING:
    from toolkit.data import Competition

__all__ = ["Pruned", "RunResult", "train"]


@dataclasses.dataclass(frozen=True)
class RunResult:
    """How a run ended and where its files are."""

    run_id: str
    path: Path | None
    status: str  # completed | interrupted | pruned | failed
    metrics: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Job:
    """What :func:`train` was asked to do, besides the config and the competition."""

    runs_root: Path | None = None  # where run folders go (default: runs/)
    save: bool = True  # write a run folder
    quiet: bool = False  # no progress bar
    report: Report | None = None  # the tuner's hook; returning True prunes the run
    on_run: Callable[[str, str], None] | None = None  # told (run id, path) once the folder exists
    extra: dict[str, Any] | None = None  # more fields for run.json (a study's trial number...)
    started: float | None = None  # time.perf_counter() the budget counts from (None: now)


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
    started: float | None = None,
) -> RunResult:
    """Train one model on ``competition`` as ``config`` says, writing a run folder.

    ``report(eval_index, value)`` is called after every evaluation that reports a value; when
    it returns True the run stops, is recorded as pruned, and :class:`Pruned` is raised.
    ``on_run(run_id, path)`` is called once the run folder exists. Under ``torchrun`` only
    rank 0 writes, reports and returns metrics; the other ranks return a result with an empty
    run id, no path and no metrics once training ends. ``started`` (a ``time.perf_counter()``
    reading) is when the budget began, when the caller did work inside it first (``tk train``
    loads the images in it); the run's clock and its times count from it.
    """
    job = Job(runs_root, save, quiet, report, on_run, extra, started)
    world = World.from_env()
    if not world.distributed:
        return _run(config, competition, job, SINGLE)
    validate(config)  # user errors before any rank waits for another
    if config.batch_size < world.size:
        raise ToolkitError(
            f"batch_size={config.batch_size} is smaller than the {world.size} processes; each "
            "needs a share of every batch (batch_size is the global batch)."
        )
    device = local_device(resolve_device(config.device), world)
    with process_group(world, device) as joined:
        return _run(config, competition, job, joined)


def _run(cfg: TrainConfig, competition: Competition, job: Job, world: World) -> RunResult:
    t0 = time.perf_counter() if job.started is None else job.started
    # 1. set-up: the images this config asks for, the task (submission shape + metric, checked
    # before training), torch; 2. parts: the splits on the device, then the model --------------
    validate(cfg)
    device = local_device(resolve_device(cfg.device), world)
    prepared = prepare(cfg, competition, device, world)
    competition, task, splits, setup = (
        prepared.competition,
        prepared.task,
        prepared.splits,
        prepared.setup,
    )
    slow_bf16 = emulated_bf16(cfg.precision, device)
    if slow_bf16 is not None and not job.quiet and world.is_main:
        print(f"warning: {slow_bf16}", file=sys.stderr)
    if not world.distributed:  # ranks would each probe and could disagree: keep the width
        cfg, sizing = autosize.choose(cfg, splits, device, setup, time.perf_counter() - t0)
        setup = dataclasses.replace(setup, config=cfg)
        if sizing.chosen is not None and not job.quiet:
            print(f"autosize: {sizing.reason}", file=sys.stderr)
    else:
        sizing = autosize.Sizing(None, "not under torchrun: the encoder's width as configured")
    model = build_model(cfg, splits, device)
    preflight(model, splits, cfg)  # settings or images it cannot take: before the run folder
    init_state = initial_encoder_weights(cfg)  # a bad init_from fails before the run folder
    if init_state is not None:
        load_encoder(model.encoder, init_state, cfg.init_from)
    elif not model.kinds.pretrained:  # a fresh encoder may set weights from the images
        init_from_data(model, splits, cfg.seed)
    plan = make_plan(cfg, n_train=len(splits.y_train), kinds=model.kinds)
    mixing.check(cfg, plan)

    def description() -> dict[str, Any]:  # the checkpoint's JSON
        meta = model.describe(cfg, splits, competition.fingerprint)
        return meta | {"image_policy": competition.image_policy, **task.record(splits.classes)}

    run = None
    if job.save and world.is_main:
        run = store.create_run(
            f"{_short(cfg.encoder)}-{cfg.loss}-{cfg.head}",
            {
                "status": "running",
                "competition": competition.name,
                "competition_path": str(competition.root),
                "format": competition.format,
                "data_fingerprint": competition.fingerprint,
                "config": cfg.to_dict(),
                "image_policy": competition.image_policy,
                **task.record(splits.classes),
                "machine": _machine(device, cfg.precision),
                "split_sizes": {"train": len(splits.y_train), "val": len(splits.y_val)},
                **({"pseudo_labels": splits.pseudo_labels} if splits.pseudo_labels else {}),
                **({"autosize": sizing.record()} if cfg.autosize else {}),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                **(job.extra or {}),
            },
            job.runs_root,
        )
        if job.on_run is not None:
            job.on_run(run.id, str(run.path))
    progress = Progress(job.quiet or not world.is_main, metric=task.metric.name)
    ctx = Context(cfg, run, progress, job.report, device, setup.autocast, t0, world=world)
    ctx.events = tensorboard.open_log(run, cfg.tensorboard)  # None: not logging

    # 3. the plan's stages ----------------------------------------------------------------------
    status, error = "failed", None
    trained: dict[str, Any] = {}  # budget_use, once training ended
    ended: list[dict[str, Any]] = []  # each stage: when it ended, the reserve it left
    tsne = cfg.tsne != "off"  # auto: on here; the tuner turns it off for its trials
    after = reserves(
        plan,
        end=t0 + cfg.budget,
        n_train_eval=min(len(splits.y_train), TRAIN_EVAL_SAMPLES),
        n_val=len(splits.y_val),
        n_test=len(competition.x_test),
        views=view_count(setup.tta),
        tsne=tsne and job.save,
    )
    try:
        for stage_plan, reserve in zip(plan.stages, after, strict=True):
            if stage_plan.on_features:
                if not world.is_main:
                    break  # under DDP rank 0 trains a head on frozen features alone
                ctx.world = SINGLE
            stage = build_stage(stage_plan, model, splits, setup)
            stage.deadline = _deadline(cfg.budget, t0, stage_plan.budget_share)
            stage.reserve = reserve
            seen = ctx.images
            fit(stage, ctx)
            ended.append(_stage_end(stage_plan.name, reserve, ctx, t0, ctx.images - seen))
        trained = _budget_use(cfg, ended)
        flush_metrics(ctx, force=True)
        if ctx.events is not None:
            ctx.events.close()
        status = "completed"
    except BaseException as err:
        status, error = _ending(err)
        raise
    finally:
        ctx.progress.close()
        if ctx.events is not None and status != "completed":
            with contextlib.suppress(Exception):  # its disk may be what failed the run
                ctx.events.close()
        if run is not None and status != "completed":

            def keep(target: store.RunDir) -> None:  # the best weights so far (each
                if ctx.rows:  # stage restored its best)
                    save_best(target, model.encoder, model.head, description())

            _record_end(run, status, error, ctx, t0, keep)

    if not world.is_main:  # rank 0 evaluates and writes the run
        return RunResult("", None, "completed", {})

    # 4. final evaluation and 5. artifacts; a failure here (disk full) still ends the run's
    # record with its status and reason, never leaving it "running".
    digest = None
    try:
        metrics = final_metrics(cfg, competition, model, splits, setup)
        summary = {**metrics.summary(), **_last_evaluation(ctx)}
        if run is None:
            return RunResult("", None, "completed", summary)
        from toolkit.runs.artifacts import write_artifacts

        digest = save_best(run, model.encoder, model.head, description())
        write_artifacts(run, ctx.rows, metrics, model.kinds.embedding_loss, tsne=tsne)
        tensorboard.write_summary(run, cfg.tensorboard, summary, cfg.to_dict())
        run.update(
            status="completed",
            error=None,
            metrics=summary,
            checkpoint_sha256=digest,
            **({"ema": ctx.ema} if ctx.ema else {}),  # per stage: the EMA or the raw weights
            **({"average_last": ctx.averaging} if ctx.averaging else {}),  # average kept?
            **_timing(ctx, t0),
            **trained,
        )
    except BaseException as err:
        if run is not None:

            def keep_final(target: store.RunDir) -> None:
                if digest is None:  # not saved yet
                    save_best(target, model.encoder, model.head, description())

            _record_end(run, *_ending(err), ctx, t0, keep_final)
        raise
    return RunResult(run.id, run.path, "completed", summary)


def _ending(err: BaseException) -> tuple[str, str]:
    """The status and reason a run that raised ``err`` ends with."""
    if isinstance(err, KeyboardInterrupt):
        return "interrupted", _interrupted_by(err)
    if isinstance(err, Pruned):
        return "pruned", str(err)
    if isinstance(err, ToolkitError):
        return "failed", str(err)
    if isinstance(err, OSError):  # a disk or folder problem met outside the toolkit's writes
        return "failed", io.os_error_message(err)
    return "failed", f"{type(err).__name__}: {err}"


def _record_end(
    run: store.RunDir,
    status: str,
    error: str | None,
    ctx: Context,
    t0: float,
    keep: Callable[[store.RunDir], None],
) -> None:
    """Record how a run that did not complete ended: its metrics so far, its best weights
    (``keep``) and, in run.json, its status and reason.

    The metrics and weights are kept when they can be: a disk that is full for them is already
    the recorded reason. When run.json itself cannot be written the error raised names it
    beside the first reason (one line), since the file still says "running".
    """
    for step in (lambda: flush_metrics(ctx, force=True), lambda: keep(run)):
        try:
            step()
        except Exception:  # the disk that failed the run may fail these too
            continue
    try:
        run.update(status=status, error=error, **_timing(ctx, t0))
    except (OSError, ToolkitError) as err:
        stuck = f"{io.shown(run.file(store.RUN_FILE))} still says 'running'"
        if str(err) == error:  # the record was what could not be written
            raise ToolkitError(f"{str(err).rstrip('.')}; {stuck}.") from None
        raise ToolkitError(f"{str(error).rstrip('.')}; {stuck}: {err}") from None


def _interrupted_by(err: KeyboardInterrupt) -> str:
    from toolkit.errors import Terminated

    if isinstance(err, Terminated):
        return "stopped by SIGTERM (preempted or killed); rerun the same command to train again"
    return "interrupted by the user (Ctrl-C)"


def _deadline(budget: float, t0: float, share: float | None) -> float | None:
    """The moment a stage must end: its share of the run's budget, leaving time to finish."""
    return None if budget <= 0 or share is None else t0 + budget * share


def _stage_end(
    name: str, reserve: Reserve | None, ctx: Context, t0: float, images: int
) -> dict[str, Any]:
    """When a stage ended (seconds from the start), the images (or feature rows) it trained on,
    and the reserve it left for what followed, priced at the measured forward speed (None: the
    plan's share decided)."""
    estimate = None
    if reserve is not None and ctx.s_per_view > 0:
        estimate = round(reserve.seconds(ctx.s_per_view), 2)
    return {
        "stage": name,
        "ended_s": round(time.perf_counter() - t0, 2),
        "images": images,
        "reserve_estimated_s": estimate,
    }


def _budget_use(cfg: TrainConfig, ended: list[dict[str, Any]]) -> dict[str, Any]:
    """For run.json under a budget: when training ended and the reserve it left for the final
    evaluation and artifacts (the last stage's), and the same for every stage; ``duration_s``
    beside them shows what the reserve actually took, the next stage's end what one left for
    it took."""
    if cfg.budget <= 0 or not ended:
        return {}
    last = ended[-1]
    return {
        "budget_use": {
            "training_ended_s": last["ended_s"],
            "reserve_estimated_s": last["reserve_estimated_s"],
            "stages": ended,
        }
    }


def _last_evaluation(ctx: Context) -> dict[str, Any]:
    """The metric at the run's last evaluation: the best of many evaluations (what the run
    keeps and reports) is biased upwards, the last one is not."""
    value = ctx.rows[-1].get("value") if ctx.rows else None
    return {} if value is None else {"val_score_last": round(float(value), 5)}


def _machine(device: torch.device, precision: str) -> dict[str, Any]:
    """What the run ran on: device, threads, precision (and the CPU's native bf16 features)."""
    from toolkit.train.device import native_bf16, resolve_precision

    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "precision": resolve_precision(precision, device),
        "cpu_native_bf16": native_bf16(),
    }


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
