"""What the optimisation loop (:mod:`.loop`) runs: a :class:`Stage`, and the :class:`Context`
every stage of a run shares.

:mod:`.stages` builds a :class:`Stage` from a stage of the plan; :func:`.loop.fit` runs it,
writing what it measures into the :class:`Context` (metrics rows, counters, the choices made at
each stage's end) for the trainer to record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from toolkit.runs.store import RunDir
from toolkit.runs.tensorboard import EventLog
from toolkit.train.averaging import WeightAverage
from toolkit.train.config import TrainConfig
from toolkit.train.distributed import SINGLE, World
from toolkit.train.ema import EMA
from toolkit.train.mixing import Mixing
from toolkit.train.plan import StagePlan
from toolkit.train.progress import Progress
from toolkit.train.reserve import Reserve
from toolkit.train.resizing import ProgressiveResize

# The tuner's hook: called with (evaluation index, value) after each evaluation that reports a
# value; returning True prunes the run (training stops and raises Pruned).
Report = Callable[[int, float], bool]


@dataclass
class Stage:
    """One stage of the plan, ready to run: what to train, how to step, how to score."""

    plan: StagePlan  # name, length, learning rate, evaluations, L2, budget share
    modules: list[nn.Module]  # trained, and snapshotted when the score improves
    groups: list[tuple[list[nn.Parameter], float]]  # (params, lr multiplier)
    step: Callable[[torch.Tensor], torch.Tensor]  # index batch -> scalar loss
    batches: Callable[[torch.Generator], Iterator[torch.Tensor]]  # one epoch of index batches
    # Must return "score" (higher is better; decides the best weights; None without a
    # validation split: the last weights are kept) and may return "value" (the metric as
    # reported to the pruner and shown; None: not reported) and "views" (image forward passes
    # it made, each TTA view counted: the loop prices the budget's reserve with them).
    evaluate: Callable[[], dict[str, Any]]
    deadline: float | None = None  # time.perf_counter() at the plan's share of the budget
    reserve: Reserve | None = None  # what follows under a budget; once priced, sets the end
    eval_s: float = 0.0  # duration of the latest evaluation (the last one must fit the budget)
    s_per_view: float = 0.0  # seconds per image view measured building it (0: none measured)
    best_state: dict[str, torch.Tensor] | None = None
    best_score: float = -math.inf
    mixing: Mixing | None = None  # mixup/CutMix of the step's batches; told the progress
    resizing: ProgressiveResize | None = None  # smaller early batches; told the progress
    ema: EMA | None = None  # the weights' moving average (config.ema > 0; set by fit)
    average: WeightAverage | None = None  # the last evaluations' weights (average_last; by fit)

    @property
    def name(self) -> str:
        return self.plan.name


@dataclass
class Context:
    """What every stage shares: config, run folder, metrics rows, progress, timers."""

    config: TrainConfig
    run: RunDir | None
    progress: Progress
    report: Report | None
    device: torch.device
    autocast: Callable[[], Any]
    t0: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    evals: int = 0
    metrics_written: float = 0.0  # perf_counter() of the last metrics.csv write
    steps: int = 0
    images: int = 0
    world: World = SINGLE  # under torchrun: this rank; rank 0 evaluates, logs and reports
    lr: float = 0.0  # the latest step's learning rate (before each group's scale): metrics' lr
    events: EventLog | None = None  # TensorBoard event file of the run, when it logs one
    ema: dict[str, dict[str, Any]] = field(default_factory=dict)  # per stage: EMA or raw kept
    averaging: dict[str, dict[str, Any]] = field(default_factory=dict)  # per stage: average kept?
    s_per_view: float = 0.0  # latest measured seconds per image forward pass (0: not yet)
