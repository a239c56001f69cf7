"""benchmarks/startup.py --smoke: `tk --help` and a warm `tk plugins list` load without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "startup.py"


def test_startup_smoke(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    env = os.environ | {"TOOLKIT_THREADS": "1", "TOOLKIT_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--json", str(out)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["runs_per_command"] == 1
    r = result["results"]
    for key in ("help", "plugins_list_warm", "plugins_list_cold"):
        assert 0 < r[key]["best_s"] <= r[key]["median_s"] < 60, key
    assert not r["help"]["imports_torch"] and r["help"]["heavy_imports"] == []
    assert not r["plugins_list_warm"]["imports_torch"]
    assert r["plugins_list_cold"]["imports_torch"]  # the check sees torch when it is imported
    assert r["help"]["goal_median_s"] == 0.5 and r["plugins_list_warm"]["goal_median_s"] == 1.0
