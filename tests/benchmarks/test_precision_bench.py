"""Smoke test of benchmarks/precision.py: both precisions timed, the CPU's bf16 support said."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks._script import run_smoke


def test_precision_smoke(tmp_path: Path) -> None:
    result = run_smoke("precision.py", tmp_path)
    (rates,) = result["images_per_s"].values()
    assert rates["fp32"] > 0 and rates["bf16"] > 0
    assert isinstance(result["cpu_native_bf16"], list)
    assert result["auto_picks"] in ("fp32", "bf16")
