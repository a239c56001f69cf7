"""Launching ``tk`` on 2 CPU processes with torchrun from tests, one log per rank."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TORCHRUN_TIMEOUT_S = 180  # a deadlock fails the test instead of hanging the suite


def run_torchrun(
    tk_args: list[str], cwd: Path, env: dict[str, str], logs: Path
) -> tuple[subprocess.CompletedProcess[str], dict[int, tuple[str, str]]]:
    """``python -m torch.distributed.run --standalone --nproc_per_node 2 -m toolkit ARGS``;
    returns the process and each rank's (stdout, stderr)."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # a free port of its own: no clash with other runs on this machine
        "--nproc_per_node",
        "2",
        "--log-dir",
        str(logs),
        "--redirects",
        "3",  # each rank's stdout/stderr in its own file under logs/
        "-m",
        "toolkit",
        *tk_args,
    ]
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TORCHRUN_TIMEOUT_S
    )
    return proc, {rank: rank_log(logs, rank) for rank in (0, 1)}


def rank_log(logs: Path, rank: int) -> tuple[str, str]:
    """One rank's (stdout, stderr) from torchrun's log folder."""
    out = sorted(logs.rglob(f"attempt_0/{rank}/stdout.log"))
    err = sorted(logs.rglob(f"attempt_0/{rank}/stderr.log"))
    assert len(out) == 1 and len(err) == 1, list(logs.rglob("*"))
    return out[0].read_text(), err[0].read_text()
