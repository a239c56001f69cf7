"""benchmarks/startup.py --smoke: `tk --help` and a warm `tk plugins list` load without torch."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks._script import run_smoke


def test_startup_smoke(tmp_path: Path) -> None:
    result = run_smoke("startup.py", tmp_path, root=False)
    assert result["runs_per_command"] == 1
    r = result["results"]
    for key in ("help", "plugins_list_warm", "plugins_list_cold"):
        assert 0 < r[key]["best_s"] <= r[key]["median_s"] < 60, key
    assert not r["help"]["imports_torch"] and r["help"]["heavy_imports"] == []
    assert not r["plugins_list_warm"]["imports_torch"]
    assert r["plugins_list_cold"]["imports_torch"]  # the check sees torch when it is imported
    assert r["help"]["goal_median_s"] == 0.5 and r["plugins_list_warm"]["goal_median_s"] == 1.0
