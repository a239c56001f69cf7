"""benchmarks/data_load.py --smoke: three timed loads of a small JPEG competition."""

from __future__ import annotations

from pathlib import Path

from ._script import run_smoke


def test_data_load_smoke(tmp_path: Path) -> None:
    result = run_smoke("data_load.py", tmp_path)
    assert result["images"] == result["train"] + result["test"] == 600
    assert result["shape"] == [3, 32, 32]
    assert not result["reused"]
    for key in ("cold_all_cores_s", "cold_one_worker_s", "cached_s"):
        assert 0 < result[key] < 60, key
    assert result["speedup"] > 0
    assert result["same_arrays"] and result["cached_is_memmap"]
    assert result["cached_s"] < result["cold_all_cores_s"]  # the cache is what makes it fast
    assert result["cached_within_goal"]
    assert result["cache_mb"] > 600 * 3 * 32 * 32 / 2**20 * 0.99
    # The competition folder is reused, not rewritten, by a second run.
    assert run_smoke("data_load.py", tmp_path)["reused"]
