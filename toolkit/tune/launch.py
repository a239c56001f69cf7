"""``tk tune``: where a study's worker loop runs, chosen once, here.

- One worker (``--workers 1``): the loop runs in this process (:func:`run_here`), or, when
  ``torchrun`` started this process, across all its processes with every trial trained
  data-parallel (:mod:`toolkit.tune.distributed`).
- Several workers: K processes on this machine (:func:`start_workers`), each started through
  the library entry point :mod:`toolkit.tune.worker_main` with its job in a file
  (:mod:`toolkit.tune.job`), never with the working folder importable.

Modules below this one never import it: the worker loop knows nothing of how it was started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import ToolkitError, terminated
from toolkit.tune.spec import StudySpec
from toolkit.tune.storage import default_url, redact

if TYPE_CHECKING:
    from toolkit.data import Competition

WORKER_MODULE = "toolkit.tune.worker_main"  # run with python -P -m: see that module


def tune(
    spec: StudySpec,
    competition: str,
    *,
    storage: str | None = None,
    workers: int = 1,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run ``spec`` until it holds ``spec.trials`` finished trials; return a summary.

    With ``workers > 1`` each worker is a process limited to its share of the CPU threads; on
    a CUDA machine workers take the visible GPUs round-robin. Each worker is handed the whole
    spec (so a caller's changes to it reach the workers) with its own sampler seed, ``seed +
    i``: with one seed, every worker would draw the same parameters.
    """
    from toolkit.train.task import load_for
    from toolkit.tune.objective import base_config
    from toolkit.tune.worker import open_study, study_task

    check_parallelism(workers)
    url = storage or default_url(spec.name)
    comp = load_for(base_config(spec), competition)  # decode + cache once, before workers
    task = study_task(spec, comp)  # a metric that does not fit the submission: one error, now
    if workers == 1:
        stats = run_here(spec, comp, url, quiet=quiet)
        return {"study": spec.name, "storage": redact(url), "workers": 1, **stats}
    # Create the study (and a database's tables) here, once: workers creating them at the
    # same moment race on the schema (PostgreSQL: duplicate key in pg_type).
    open_study(spec, url, direction=task.metric.direction)
    start_workers(spec, competition, url, workers)
    return {"study": spec.name, "storage": redact(url), "workers": workers}


def run_here(spec: StudySpec, comp: Competition, url: str, *, quiet: bool) -> dict[str, int]:
    """The worker loop in this process, or across the torchrun launch this process is in."""
    from toolkit.train.distributed import World

    world = World.from_env()
    if world.distributed:
        from toolkit.tune.distributed import run_distributed

        return run_distributed(spec, comp, url, world, quiet=quiet)
    from toolkit.tune.worker import run_worker

    return run_worker(spec, comp, url, quiet=quiet)


def start_workers(spec: StudySpec, competition: str, url: str, workers: int) -> None:
    """Run ``workers`` worker processes on ``spec`` and wait for them; any failure is an error.

    Ctrl-C and SIGTERM are passed on to the workers (each re-queues its running trial and
    marks its run interrupted); a worker whose launcher died stops by itself
    (:mod:`toolkit.tune.worker_main`).
    """
    from toolkit.tune.job import WorkerJob, write_job

    gpus = _visible_gpus()
    with tempfile.TemporaryDirectory(prefix="tk-tune-") as folder:
        procs = []
        for i in range(workers):
            seed = None if spec.seed is None else spec.seed + i
            job = WorkerJob(replace(spec, seed=seed), competition, url, _plugin_paths())
            path = write_job(job, Path(folder) / f"worker-{i}.json")
            cmd = [sys.executable, "-P", "-m", WORKER_MODULE, str(path)]
            procs.append(subprocess.Popen(cmd, env=worker_env(i, workers, gpus)))
        try:
            codes = [p.wait() for p in procs]
        except KeyboardInterrupt:
            passed_on = signal.SIGTERM if terminated() else signal.SIGINT
            for p in procs:
                if p.poll() is None:
                    p.send_signal(passed_on)
            for p in procs:
                p.wait()
            raise
    if any(codes):
        raise ToolkitError(
            f"{sum(1 for c in codes if c)} of {workers} workers failed (exit codes {codes}); "
            f"their errors are above; rerun the same command to resume the study."
        )


def worker_env(index: int, workers: int, gpus: list[str]) -> dict[str, str]:
    """Worker ``index``'s environment: its share of the CPU threads, one of ``gpus`` (taken
    round-robin), and none of torchrun's variables (a worker is one process, not a rank)."""
    from toolkit.train.torchrun import forget_torchrun

    threads = str(max(1, (os.cpu_count() or 1) // workers))
    env = dict(os.environ, TOOLKIT_THREADS=threads, OMP_NUM_THREADS=threads)
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[index % len(gpus)]
    forget_torchrun(env)
    return env


def check_parallelism(workers: int) -> None:
    """One kind of parallelism per command: ``--workers`` is refused under torchrun, where each
    trial trains on all its processes; and the workers' heartbeat settings
    (``$TOOLKIT_HEARTBEAT_S``, ``$TOOLKIT_HEARTBEAT_GRACE_S``) must make sense. Cheap: the CLI
    calls it before any other work."""
    from toolkit.train.torchrun import launched_by_torchrun
    from toolkit.tune.storage import grace_s

    grace_s()  # checks both settings: a bad one is a one-line error before anything is written

    if workers < 1:
        raise ToolkitError(f"--workers must be at least 1, got {workers}.")
    if workers != 1 and launched_by_torchrun():
        raise ToolkitError(
            f"--workers {workers} under torchrun: use one or the other (torchrun trains "
            "each trial on all its processes; --workers runs trials side by side)."
        )


def _plugin_paths() -> tuple[str, ...]:
    """The plugin files and folders this process was given (``--plugins``), for its workers."""
    from toolkit.registry import plugin_paths

    return plugin_paths()


def _visible_gpus() -> list[str]:
    """GPU ids to share among workers (CUDA_VISIBLE_DEVICES, else every device torch sees)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:
        return []
