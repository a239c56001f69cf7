"""``tk train``: a --budget counts from the command's start, loading the images included."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests._cli import run_main


def test_the_budget_includes_loading_the_images(
    capsys: pytest.CaptureFixture[str],
    digits_path: Path,
    tune_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import toolkit.cli.train as train_cli

    load = train_cli.load_competition_arg
    slow_s = 1.5  # a slow disk, or thousands of photos to decode

    def slow_load(*args: Any, **kwargs: Any) -> Any:
        time.sleep(slow_s)
        return load(*args, **kwargs)

    monkeypatch.setattr(train_cli, "load_competition_arg", slow_load)
    args = ["train", str(digits_path), "--set", "encoder.width=0.25", "--json", "-q"]
    code, out, err = run_main(capsys, *args, "--budget", "8s")
    assert code == 0, err
    record = json.loads((Path(json.loads(out)["path"]) / "run.json").read_text())
    # The run's clock started before the load: its duration and training end include it.
    assert record["duration_s"] >= slow_s
    assert record["budget_use"]["training_ended_s"] >= slow_s
