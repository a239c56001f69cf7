"""Run a benchmark script the way CI does: its ``--smoke`` size, one thread, a private cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_smoke(script: str, tmp_path: Path, *extra: str, root: bool = True) -> dict[str, Any]:
    """``python benchmarks/<script> --smoke --json OUT [--root DIR] [extra]`` in tmp_path, with
    data, caches, runs and studies under tmp_path; returns the JSON it wrote."""
    out = tmp_path / "result.json"
    env = os.environ | {
        "TOOLKIT_THREADS": "1",
        "TOOLKIT_CACHE": str(tmp_path / "cache"),
        "TOOLKIT_RUNS": str(tmp_path / "runs"),
        "TOOLKIT_STUDIES": str(tmp_path / "studies"),
        "TOOLKIT_SUBMISSIONS": str(tmp_path / "submissions"),
    }
    cmd = [sys.executable, str(BENCHMARKS / script), "--smoke", "--json", str(out)]
    if root:
        cmd += ["--root", str(tmp_path / "data")]
    cmd += list(extra)
    done = subprocess.run(
        cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())
