"""Smoke test of benchmarks/autosize_probe.py: repeated probes, both estimates and choices."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks._script import run_smoke
from toolkit.train import autosize


def test_autosize_probe_smoke(tmp_path: Path) -> None:
    result = run_smoke("autosize_probe.py", tmp_path)
    assert len(result["repeats"]) == 2 and result["precision"] in ("fp32", "bf16")
    widths = {str(w) for w in autosize.WIDTHS}
    for row in result["repeats"]:
        assert set(row["median_img_s"]) == set(row["mean_img_s"]) == widths
        assert all(v > 0 for v in row["median_img_s"].values())
        assert row["choice_median"] in autosize.WIDTHS and row["choice_mean"] in autosize.WIDTHS
    for spread in (result["spread_median"], result["spread_mean"]):
        assert all(s["min"] <= s["median"] <= s["max"] for s in spread.values())
