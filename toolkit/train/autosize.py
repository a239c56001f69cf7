"""The budget picks the model: under ``--budget``, probe this machine's speed and choose a width.

With ``autosize = true`` (the recipes set it), a run that has a budget and an encoder with a
``width`` parameter the user did not set measures how many training images per second each
candidate width takes on this machine, with this data, precision and batch size (a few real
training steps each, a few seconds in all; the narrowest first, and when even it falls short no
wider one is probed), and trains the widest candidate that still gets at least
:data:`MIN_EPOCHS` passes over the train split, and :data:`MIN_IMAGES` training images in all,
in its share of the budget; the narrowest when none does. A fast machine (a GPU, AMX bf16
cores, many cores) or a long budget gets the wide model; a slow one or a short budget the
narrow model with more epochs.

The rule and the measurements behind its two thresholds are in docs/BENCHMARKS.md ("The budget
picks the model"). The probe is recorded in ``run.json`` under ``autosize``.
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from toolkit.train.config import TrainConfig
    from toolkit.train.parts import Splits
    from toolkit.train.stages import Setup

WIDTHS = (1.0, 0.5)  # candidates, widest first (the widths measured in docs/BENCHMARKS.md)
# Passes over the train split the chosen width must get, counted at the probe's speed over the
# training share of the budget (evaluations take some of that time: the run trains a little
# fewer epochs than this).
MIN_EPOCHS = 12.0
# ... and training images in all: on a small train split 12 epochs are few steps, and there the
# wide model lost to the narrow one trained for more of them (docs/BENCHMARKS.md).
MIN_IMAGES = 400_000
PROBE_SECONDS = (0.3, 1.5)  # timed steps per candidate (0.3% of the budget, within these)
PROBE_MAX_STEPS = 8  # ... but never more than this many
# A candidate's probe stops after the step that takes it past this share of the budget: on a
# short budget with large images one step of the wide model can take seconds (a 30-s budget on
# photos spent 27 s probing on a busy machine), and a width that slow cannot get its epochs.
PROBE_SHARE = 0.03
# Untimed steps first: allocation, kernel selection, the optimiser's state. The speed is the
# median of the timed steps' rates, so one slow step (a page fault, a neighbour's burst) does
# not move the choice (benchmarks/autosize_probe.py measures the spread; docs/BENCHMARKS.md).
WARMUP_STEPS = 2


@dataclass(frozen=True)
class Probe:
    """One candidate's probe: every step it ran, warm-up first, as (images, seconds)."""

    stage: str  # the first stage's name ("finetune", "encoder", ...)
    steps: tuple[tuple[int, float], ...]

    @property
    def images_per_s(self) -> float:
        """The median of the timed steps' rates (images / second)."""
        timed = self.steps[WARMUP_STEPS:] or self.steps[-1:]
        return statistics.median(n / max(s, 1e-9) for n, s in timed)


@dataclass(frozen=True)
class Sizing:
    """What the probe measured and chose (``run.json``'s ``autosize``)."""

    chosen: float | None  # the width trained; None: autosize did not apply
    reason: str  # one line: why this width (or why no probe)
    images_per_s: dict[str, float] = dataclasses.field(default_factory=dict)  # width -> img/s
    epochs: dict[str, float] = dataclasses.field(default_factory=dict)  # width -> epochs there
    probe_s: float = 0.0  # seconds the probe took (inside the budget)

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"min_epochs": MIN_EPOCHS, "min_images": MIN_IMAGES}


def applies(cfg: TrainConfig) -> str | None:
    """None when the probe should run; else why it does not (shown in run.json)."""
    from toolkit.registry import encoders

    if not cfg.autosize:
        return "autosize is off"
    if cfg.budget <= 0:
        return "no budget: the encoder's width as configured"
    if "width" in cfg.encoder_params:
        return f"encoder.width={cfg.encoder_params['width']} was set"
    names = {p.name for p in encoders.info(cfg.encoder).params}
    if "width" not in names:
        return f"encoder '{cfg.encoder}' has no width parameter"
    return None


def choose(
    cfg: TrainConfig, splits: Splits, device: torch.device, setup: Setup, spent_s: float
) -> tuple[TrainConfig, Sizing]:
    """``cfg`` with ``encoder.width`` chosen for the budget, and what the probe saw.

    ``spent_s``: seconds of the budget already used (data loading). The probe's own time is
    counted too. The global random state is re-seeded afterwards, so the run's model starts
    from the same weights as without the probe.
    """
    why_not = applies(cfg) or (None if len(splits.y_train) else "the train split is empty")
    if why_not is not None:
        return cfg, Sizing(None, why_not)
    from toolkit.train.plan import ENCODER_SHARE, TRAIN_SHARE

    t0 = time.perf_counter()
    n_train = len(splits.y_train)
    need = max(MIN_EPOCHS, MIN_IMAGES / n_train)  # epochs a width must get to be chosen
    speeds: dict[str, float] = {}
    epochs: dict[str, float] = {}
    narrowest = chosen = WIDTHS[-1]
    # The narrowest first: its steps are the cheapest, and when even it falls short no wider
    # (slower) width can fit, so the wide probe (seconds a step on large images) is skipped.
    # When it fits, the others from the widest down; the first that fits is trained.
    for width in (narrowest, *WIDTHS[:-1]):
        candidate = _with_width(cfg, width)
        measured = probe(candidate, splits, device, setup, PROBE_SHARE * cfg.budget)
        if measured is None:
            return cfg, Sizing(None, "the encoder is frozen: its width does not change the cost")
        speed = speeds[str(width)] = measured.images_per_s
        share = ENCODER_SHARE if measured.stage == "encoder" else TRAIN_SHARE
        left = max(cfg.budget * share - spent_s - (time.perf_counter() - t0), 0.0)
        epochs[str(width)] = round(speed * left / n_train, 1)
        fits = epochs[str(width)] >= need
        if width == narrowest and not fits:
            break  # none fits: the narrowest, no wider probe
        if width != narrowest and fits:
            chosen = width
            break  # the widest that fits: narrower ones need no probe
    torch.manual_seed(cfg.seed)  # the run's weights as if no probe had run
    got = epochs[str(chosen)]
    reason = (
        f"width {chosen}: about {got:g} epochs at {speeds[str(chosen)]:,.0f} img/s in the budget"
        + ("" if got >= need else f" (none gets {MIN_EPOCHS:g} epochs and {MIN_IMAGES:,} images)")
    )
    sizing = Sizing(
        chosen,
        reason,
        {k: round(v, 1) for k, v in speeds.items()},
        epochs,
        round(time.perf_counter() - t0, 2),
    )
    return _with_width(cfg, chosen), sizing


def probe(
    cfg: TrainConfig,
    splits: Splits,
    device: torch.device,
    setup: Setup,
    max_s: float = float("inf"),
) -> Probe | None:
    """Real training steps of ``cfg``'s first stage on the train split, timed one by one; None
    when that stage trains a head on frozen features (the width does not change its cost).
    It stops after the step that takes it past ``max_s`` seconds, warm-up or not (the speed is
    then the last step's)."""
    from toolkit.train.loop import make_optimizer
    from toolkit.train.parts import build_model
    from toolkit.train.plan import make_plan
    from toolkit.train.stages import build_stage

    model = build_model(cfg, splits, device)
    plan = make_plan(cfg, n_train=len(splits.y_train), kinds=model.kinds).stages[0]
    if plan.on_features:
        return None
    own = dataclasses.replace(
        setup, config=cfg, augment_generator=torch.Generator().manual_seed(cfg.seed)
    )
    stage = build_stage(plan, model, splits, own)
    optimizer = make_optimizer(cfg, stage)  # the run's own optimiser: its step is timed too
    for m in stage.modules:
        m.train()
    gen = torch.Generator().manual_seed(cfg.seed)
    # Epoch after epoch: a train split of one batch still gives timed steps after warm-up.
    batches = itertools.chain.from_iterable(stage.batches(gen) for _ in itertools.count())
    steps: list[tuple[int, float]] = []
    timed = 0.0
    seconds = min(max(0.003 * cfg.budget, PROBE_SECONDS[0]), PROBE_SECONDS[1])
    start = time.perf_counter()
    for idx in batches:
        t = time.perf_counter()
        loss = stage.step(idx)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        steps.append((len(idx), time.perf_counter() - t))
        if time.perf_counter() - start >= max_s:
            break
        if len(steps) > WARMUP_STEPS:
            timed += steps[-1][1]
            if timed >= seconds or len(steps) - WARMUP_STEPS >= PROBE_MAX_STEPS:
                break
    del model, stage, optimizer
    return Probe(plan.name, tuple(steps))


def _with_width(cfg: TrainConfig, width: float) -> TrainConfig:
    return dataclasses.replace(cfg, encoder_params={**cfg.encoder_params, "width": width})
