"""Smoke test of benchmarks/tta_cost.py: every TTA case is timed and compared with none."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks._script import run_smoke


def test_tta_cost_smoke(tmp_path: Path) -> None:
    result = run_smoke("tta_cost.py", tmp_path)
    assert result["images"] == 512 and result["precision"] in ("fp32", "bf16")
    assert set(result["seconds"]) == {"none", "flip", "flip+shift"}
    assert all(s > 0 for s in result["seconds"].values())
    assert result["cost_vs_none"]["none"] == 1.0
