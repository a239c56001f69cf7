"""``tk tune`` under ``torchrun``: every trial trains data-parallel across the processes.

``torchrun --nproc_per_node N -m toolkit tune STUDY.toml COMPETITION`` starts N processes that
join one process group for the whole command (:func:`run_distributed`, chosen by
:func:`toolkit.tune.launch.run_here`). Rank 0 alone talks to Optuna: it runs the one-process
worker loop (:func:`toolkit.tune.worker.run_worker`), which claims and asks trials, reports
evaluations, prunes, tells, writes the runs and prints. Before each trial trains, the loop's
``announce`` hook broadcasts the trial's config; the other ranks train it with
``train(config, save=False, quiet=True)``, the same DDP run as ``tk train`` under torchrun, and
then wait for the next config. ``None`` means the study is done (or rank 0 stopped with an
error): they return.

A pruned or failed trial ends on every rank together: at an evaluation rank 0's pruning hook
says stop (or training fails), rank 0 broadcasts ABORT from the training loop
(:mod:`toolkit.train.loop`), the other ranks raise too, and here they drop that trial and wait
for the next config. How it ended is rank 0's to record.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import torch

from toolkit.train.distributed import World, local_device, process_group
from toolkit.tune.worker import run_worker

if TYPE_CHECKING:
    from toolkit.data import Competition
    from toolkit.train.config import TrainConfig
    from toolkit.tune.spec import StudySpec

# How long a collective waits for the other ranks. Between trials the others wait while rank 0
# alone trains a head on frozen features, runs the final evaluation, writes the run and asks
# Optuna for the next trial; torch's default (30 minutes) could cut that short on big data.
WAIT = datetime.timedelta(hours=6)


def run_distributed(
    spec: StudySpec, comp: Competition, url: str, world: World, *, quiet: bool = True
) -> dict[str, int]:
    """Tune ``spec`` with every trial trained on all ``world.size`` processes.

    Returns rank 0's count of finished trials; the other ranks count the trials they trained
    without an error.
    """
    from toolkit.errors import ToolkitError
    from toolkit.tune.folds import study_folds

    if study_folds(spec.fixed, [p.fixed for p in spec.pipelines]) >= 2:
        raise ToolkitError(
            "k-fold studies (folds) train one process per fold; tune them without torchrun "
            "(several workers: tk tune --workers N)."
        )
    device = local_device(_device(spec), world)
    with process_group(world, device, timeout=WAIT) as joined:
        if joined.is_main:
            return _lead(spec, comp, url, joined, quiet=quiet)
        return _follow(comp, joined)


def _lead(
    spec: StudySpec, comp: Competition, url: str, world: World, *, quiet: bool
) -> dict[str, int]:
    """Rank 0: the one-process worker loop, handing each trial's config to the others."""

    def announce(config: TrainConfig) -> None:
        _send(world, config.to_dict())

    try:
        stats = run_worker(spec, comp, url, quiet=quiet, announce=announce)
    except Exception:  # e.g. too many failed trials, an unreachable storage: release the others
        _send(world, None)
        raise
    _send(world, None)
    return stats


def _follow(comp: Competition, world: World) -> dict[str, int]:
    """Ranks 1..N-1: train each config rank 0 sends until it sends ``None``."""
    from toolkit.train import TrainConfig, train

    trained = 0
    while (settings := _receive(world)) is not None:
        try:
            train(TrainConfig.from_dict(settings), comp, save=False, quiet=True)
        except Exception:  # pruned or failed on rank 0 too (ABORT): it records how and why
            continue
        trained += 1
    return {"trials_run": trained}


def _send(world: World, settings: dict[str, Any] | None) -> None:
    import torch.distributed as dist

    dist.broadcast_object_list([settings], src=0, device=world.device)


def _receive(world: World) -> dict[str, Any] | None:
    import torch.distributed as dist

    box: list[Any] = [None]
    dist.broadcast_object_list(box, src=0, device=world.device)
    settings: dict[str, Any] | None = box[0]
    return settings


def _device(spec: StudySpec) -> torch.device:
    """The device the process group is made for: CUDA (NCCL) when any pipeline trains there."""
    from toolkit.train.config import TrainConfig
    from toolkit.train.device import resolve_device

    default = str(spec.fixed.get("device", TrainConfig().device))
    names = [str(p.fixed.get("device", default)) for p in spec.pipelines] or [default]
    devices = [resolve_device(n) for n in names]
    return next((d for d in devices if d.type == "cuda"), devices[0])
