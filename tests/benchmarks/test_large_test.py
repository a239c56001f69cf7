"""benchmarks/large_test.py --smoke: load, train and submit a 3,000-image test set."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from ._script import BENCHMARKS, run_smoke


def test_large_test_smoke(tmp_path: Path) -> None:
    result = run_smoke("large_test.py", tmp_path)
    assert result["image"] == [3, 16, 16] and "growth" not in result
    (size,) = result["sizes"]
    assert size["test"] == 3_000
    steps = size["steps"]
    assert set(steps) == {"load", "train", "submit"}
    for step in steps.values():
        assert step["seconds"] > 0
        assert 0 < step["peak_anon_mb"] <= step["peak_rss_mb"] < 4096
    assert steps["load"]["test_images"] == 3_000
    assert steps["load"]["peak_worker_rss_mb"] >= 0
    assert steps["load"]["cache_mb"] > 3_000 * 3 * 16 * 16 / 2**20
    assert steps["train"]["cached_load_s"] < steps["load"]["seconds"]
    submit = steps["submit"]
    assert submit["rows"] == submit["csv_rows"] == 3_000
    assert submit["csv_valid"]
    assert submit["local_test_score"] > 0.2  # well above chance (0.1): rows match their ids


def _load_script() -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))  # the script imports its sibling _synthetic
    try:
        spec = importlib.util.spec_from_file_location("large_test", BENCHMARKS / "large_test.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_growth_is_bytes_per_extra_test_image() -> None:
    def size(mb: float) -> dict[str, object]:
        step = {"peak_rss_mb": mb, "peak_anon_mb": mb / 2}
        return {"steps": {"load": step, "train": step, "submit": step}}

    growth = _load_script().slopes(size(100.0), size(110.0), 1_000, 11_000)
    assert growth["submit_peak_rss_bytes_per_image"] == round(10 * 2**20 / 10_000)
    assert growth["load_peak_anon_bytes_per_image"] == round(5 * 2**20 / 10_000)
