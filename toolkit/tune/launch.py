"""``tk tune``: run a study with one or several worker processes on this machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.tune.spec import StudySpec
from toolkit.tune.storage import default_url, redact


def tune(
    spec: StudySpec,
    spec_path: Path,
    competition: str,
    *,
    storage: str | None = None,
    workers: int = 1,
    quiet: bool = False,
    worker_args: list[str] | None = None,
) -> dict[str, Any]:
    """Run ``spec`` until it holds ``spec.trials`` finished trials; return a summary.

    With ``workers > 1`` each worker is a process (``tk tune ... --workers 1``) limited to its
    share of the CPU threads; on a CUDA machine workers take the visible GPUs round-robin.
    Workers re-read ``spec_path``, so the keys a caller may have overridden (name, trials,
    timeout, pruner, seed) are passed to them explicitly. Worker ``i`` seeds its sampler with
    ``seed + i``: with one seed, every worker would draw the same parameters.
    """
    from toolkit.train.task import load_for
    from toolkit.tune.objective import base_config
    from toolkit.tune.worker import open_study, run_worker, study_task

    url = storage or default_url(spec.name)
    comp = load_for(base_config(spec), competition)  # decode + cache once, before workers
    task = study_task(spec, comp)  # a metric that does not fit the submission: one error, now
    if workers < 1:
        raise ToolkitError(f"--workers must be at least 1, got {workers}.")
    if workers == 1:
        stats = run_worker(spec, comp, url, quiet=quiet)
        return {"study": spec.name, "storage": redact(url), "workers": 1, **stats}
    # Create the study (and a database's tables) here, once: workers creating them at the
    # same moment race on the schema (PostgreSQL: duplicate key in pg_type).
    open_study(spec, url, direction=task.metric.direction)
    procs = []
    threads = max(1, (os.cpu_count() or 1) // workers)
    gpus = _visible_gpus()
    for i in range(workers):
        env = dict(os.environ, TOOLKIT_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[i % len(gpus)]
        cmd = [
            sys.executable,
            "-m",
            "toolkit",
            "tune",
            str(spec_path),
            competition,
            "--storage",
            url,
            "--workers",
            "1",
            "--quiet",
            *_spec_args(spec, i),
            *(worker_args or []),
        ]
        procs.append(subprocess.Popen(cmd, env=env))
    try:
        codes = [p.wait() for p in procs]
    except KeyboardInterrupt:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait()
        raise
    if any(codes):
        raise ToolkitError(
            f"{sum(1 for c in codes if c)} of {workers} workers failed (exit codes {codes}); "
            f"their errors are above; rerun the same command to resume the study."
        )
    return {"study": spec.name, "storage": redact(url), "workers": workers}


def _spec_args(spec: StudySpec, index: int) -> list[str]:
    """Options that give worker ``index`` the caller's spec (with its own sampler seed)."""
    args = ["--name", spec.name, "--trials", str(spec.trials), "--pruner", spec.pruner]
    if spec.metric:
        args += ["--metric", spec.metric]
    for key, value in spec.fixed.items():  # the file's, and any the caller added
        text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        args += ["--set", f"{key}={text}"]
    if spec.seed is not None:
        args += ["--seed", str(spec.seed + index)]
    if spec.timeout is not None:
        args += ["--timeout", f"{spec.timeout}s"]
    return args


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
