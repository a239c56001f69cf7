"""The learning-rate finder: sweep the learning rate over a short run and suggest one.

fastai's LR range test (Leslie Smith's): the run's first stage (as :mod:`.plan` makes it, built
by :mod:`.stages`, so the real step with its augmentation, optimiser and L2 penalty) trains
:data:`STEPS` steps while the learning rate grows exponentially from ``start_lr`` to ``end_lr``;
the training loss is smoothed (a debiased moving average, ``beta`` 0.98) and the sweep stops
when it passes :data:`DIVERGED` times its minimum. The suggestion is fastai's ``valley`` rule
(:func:`valley`), applied as fastai's ``Learner.lr_find`` does: on the smoothed losses without
the first tenth of the steps and the last five.

Nothing is kept: no run folder, no weights. The global random state of torch and numpy is the
same after the sweep as before it (the sweep seeds its own, from the config's ``seed``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.data import Competition
    from toolkit.train.config import TrainConfig

START_LR = 1e-7  # fastai's lr_find defaults: the sweep's first ...
END_LR = 10.0  # ... and last learning rate
STEPS = 100  # steps of the sweep (fastai's num_it); epochs repeat on a small train split
SMOOTHING = 0.98  # beta of the loss's moving average (fastai's Recorder)
DIVERGED = 4.0  # stop once the smoothed loss exceeds this many times its minimum
SKIP_LAST = 5  # steps left out at the end before the valley rule (fastai's lr_find)


@dataclass(frozen=True)
class LRSweep:
    """What a sweep saw and what it suggests (``tk lr-find --json``)."""

    lrs: list[float]  # the learning rate of each step taken
    losses: list[float]  # the smoothed training loss after each step
    raw_losses: list[float]  # the step's own loss
    suggested_lr: float  # fastai's valley rule on the smoothed curve
    suggested_index: int  # its position in lrs
    stage: str  # the plan's first stage, the one swept (encoder, finetune or head)
    setting: str  # the setting the suggestion is for: lr, or head_lr for a frozen encoder's head
    stopped_lr: float | None  # the lr where the loss blew up and the sweep stopped; None: it ran
    autosize: str | None = None  # under a budget: the width swept and why; None: as configured

    def as_json(self) -> dict[str, Any]:
        return {
            "suggested_lr": self.suggested_lr,
            "setting": self.setting,
            "stage": self.stage,
            "stopped_lr": self.stopped_lr,
            "autosize": self.autosize,
            "lrs": self.lrs,
            "losses": self.losses,
        }


def valley(losses: Sequence[float]) -> int:
    """fastai's ``valley``: the index 2/3 down the longest valley of ``losses``.

    The valley is the longest strictly decreasing subsequence (found in O(n^2)); with
    ``start = end - length`` as fastai computes it, the index is
    ``start + int(length / 3) + int(length / 6)``, the steepest part of the descent. fastai's
    index is -1 for a two-point valley at the start (Python would then take the last point):
    here it is 0.
    """
    n = len(losses)
    if n == 0:
        raise ValueError("valley needs at least one loss")
    max_start, max_end = 0, 0
    lds = [1] * n  # length of the longest decreasing subsequence ending at i
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return max(0, max_start + int(sections) + int(sections / 2))


def suggest(losses: Sequence[float], steps: int) -> int:
    """Index of the suggested step: :func:`valley` on ``losses`` without their first
    ``steps // 10`` and last :data:`SKIP_LAST` (fastai), or on all of them when that leaves
    fewer than three points (a sweep that blew up early)."""
    skip = steps // 10
    part = list(losses[skip : len(losses) - SKIP_LAST])
    if len(part) < 3:
        skip, part = 0, list(losses)
    return skip + valley(part)


def sweep_lr(
    config: TrainConfig,
    competition: Competition,
    *,
    start_lr: float = START_LR,
    end_lr: float = END_LR,
    steps: int = STEPS,
) -> LRSweep:
    """Sweep the learning rate of ``config``'s first stage on ``competition`` and suggest one
    (see the module's docstring). Writes nothing; leaves the global random state as it was."""
    if not 0 < start_lr < end_lr:
        raise ToolkitError(
            f"the sweep needs 0 < start lr < end lr, got {start_lr:g} and {end_lr:g}; "
            "pass e.g. --start-lr 1e-7 --end-lr 10."
        )
    if steps < 2:
        raise ToolkitError(f"the sweep needs at least 2 steps, got {steps}; pass --steps 100.")
    from toolkit.train.config import validate
    from toolkit.train.device import resolve_device

    validate(config)
    device = resolve_device(config.device)
    with _own_random_state(device):
        return _sweep(config, competition, device, start_lr, end_lr, steps)


def _sweep(
    cfg: TrainConfig,
    competition: Competition,
    device: torch.device,
    start_lr: float,
    end_lr: float,
    steps: int,
) -> LRSweep:
    from toolkit.train import autosize
    from toolkit.train.loop import make_optimizer
    from toolkit.train.model import preflight
    from toolkit.train.parts import (
        build_model,
        initial_encoder_weights,
        load_encoder,
    )
    from toolkit.train.plan import make_plan
    from toolkit.train.prepare import prepare
    from toolkit.train.stages import build_stage

    prepared = prepare(cfg, competition, device)  # as tk train prepares a run
    splits, setup = prepared.splits, prepared.setup
    if len(splits.y_train) == 0:
        raise ToolkitError("the train split is empty; the sweep needs training images.")
    # Under a budget with autosize (the recipes), sweep the width that budget trains here.
    cfg, sizing = autosize.choose(cfg, splits, device, setup, 0.0)
    setup = dataclasses.replace(setup, config=cfg)
    model = build_model(cfg, splits, device)
    preflight(model, splits, cfg)
    init_state = initial_encoder_weights(cfg)
    if init_state is not None:
        load_encoder(model.encoder, init_state, cfg.init_from)
    plan = make_plan(cfg, n_train=len(splits.y_train), kinds=model.kinds).stages[0]
    stage = build_stage(plan, model, splits, setup)
    optimizer = make_optimizer(cfg, stage)
    weights = [p for m in stage.modules for p in m.parameters() if p.requires_grad and p.ndim > 1]
    for m in stage.modules:
        m.train()

    lrs: list[float] = []
    losses: list[float] = []
    raw: list[float] = []
    average, best, stopped = 0.0, math.inf, None
    for i, idx in enumerate(_batches(stage, cfg.seed, steps)):
        lr = start_lr * (end_lr / start_lr) ** (i / (steps - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        loss = stage.step(idx)
        if plan.l2 > 0:
            loss = loss + plan.l2 * sum((w.float() ** 2).sum() for w in weights)
        value = float(loss.detach())
        if not math.isfinite(value):
            stopped = lr
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        average = SMOOTHING * average + (1 - SMOOTHING) * value
        smooth = average / (1 - SMOOTHING ** (i + 1))  # debiased: the first steps are not ~0
        lrs.append(lr)
        raw.append(value)
        losses.append(smooth)
        best = min(best, smooth)
        if smooth > DIVERGED * best:
            stopped = lr
            break
    if len(lrs) < 2:
        raise ToolkitError(
            f"the loss blew up at the first steps of the sweep (lr {start_lr:g}); lower "
            "--start-lr or check the settings."
        )
    index = suggest(losses, steps)
    return LRSweep(
        lrs=lrs,
        losses=losses,
        raw_losses=raw,
        suggested_lr=float(f"{lrs[index]:.3g}"),
        suggested_index=index,
        stage=plan.name,
        setting="head_lr" if plan.name == "head" else "lr",
        stopped_lr=stopped,
        autosize=sizing.reason if sizing.chosen is not None else None,
    )


def _batches(stage: Any, seed: int, steps: int) -> Iterator[torch.Tensor]:
    """``steps`` index batches of the stage, epoch after epoch."""
    gen = torch.Generator().manual_seed(seed)
    taken = 0
    while taken < steps:
        epoch = 0
        for idx in stage.batches(gen):
            yield idx
            epoch += 1
            taken += 1
            if taken == steps:
                return
        if epoch == 0:
            raise ToolkitError(f"stage '{stage.name}' has no batches; the train split is empty.")


@contextlib.contextmanager
def _own_random_state(device: torch.device) -> Iterator[None]:
    """Run the body with torch's and numpy's global random state restored afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        np.random.set_state(state)


def default_png(competition: str, config: TrainConfig) -> Path:
    """``lr-find/<competition>-<encoder>-<loss>-<head>.png`` in the working folder."""
    name = f"{competition}-{config.encoder}-{config.loss}-{config.head}"
    return Path("lr-find") / (name.replace(":", "-").replace("/", "-") + ".png")


def plot_sweep(sweep: LRSweep, path: Path, title: str) -> Path:
    """Draw loss against learning rate (log scale) with the suggestion marked; write ``path``
    atomically and return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from toolkit import io

    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        ax.plot(sweep.lrs, sweep.raw_losses, color="0.75", lw=1, label="loss per step")
        ax.plot(sweep.lrs, sweep.losses, color="C0", lw=2, label="smoothed loss")
        i = sweep.suggested_index
        ax.plot(
            [sweep.lrs[i]],
            [sweep.losses[i]],
            "o",
            color="C3",
            label=f"suggested {sweep.setting}={sweep.suggested_lr:g} (valley)",
        )
        ax.set_xscale("log")
        low = min(*sweep.losses, *sweep.raw_losses)
        high = max(sweep.losses[: max(i + 1, len(sweep.losses) // 2)])
        ax.set_ylim(low - 0.1 * (high - low + 1e-9), high + 0.5 * (high - low + 1e-9))
        ax.set(title=title, xlabel=f"learning rate ({sweep.stage} stage)", ylabel="training loss")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        fig.tight_layout()
        with io.atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
    return path
