"""Smoke test of benchmarks/cpu_options.py: each option in its own process, rates and a ratio."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks._script import run_smoke


def test_cpu_options_smoke(tmp_path: Path) -> None:
    result = run_smoke("cpu_options.py", tmp_path, root=False)
    options = result["options"]
    assert set(options) == {"eager, all cores", "eager, 1 thread"}  # no compile at --smoke
    assert options["eager, 1 thread"]["threads"] == 1
    assert all(o["images_per_s"] > 0 and o["first_step_s"] > 0 for o in options.values())
    ratio = (
        options["eager, all cores"]["images_per_s"] / options["eager, 1 thread"]["images_per_s"]
    )
    assert result["threads_speedup"] == round(ratio, 3)
