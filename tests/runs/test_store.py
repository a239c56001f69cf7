"""Run folders: created with a record, found by id or prefix, listed, updated in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.errors import ToolkitError
from toolkit.runs import create_run, find_run, list_runs


def test_a_run_is_created_found_and_updated(tmp_path: Path) -> None:
    run = create_run("pixels-bce-linear-probe", {"status": "running"}, tmp_path)
    assert run.path.parent == tmp_path and "-pixels-bce-linear-probe-" in run.id
    assert find_run(run.id, tmp_path).path == run.path
    assert find_run(str(run.path)).path == run.path  # a folder works as well as an id
    run.update(status="completed", metrics={"val_acc": 0.9})
    record = json.loads(run.file("run.json").read_text())
    assert record["status"] == "completed" and record["metrics"]["val_acc"] == 0.9


def test_metrics_rows_become_a_csv(tmp_path: Path) -> None:
    run = create_run("x", {"status": "running"}, tmp_path)
    run.write_metrics([{"eval": 1, "val": 0.5}, {"eval": 2, "val": 0.75}])
    lines = run.file("metrics.csv").read_text().splitlines()
    assert lines[0].split(",") == ["eval", "val"] and len(lines) == 3


def test_listing_holds_every_run(tmp_path: Path) -> None:
    ids = {create_run(f"r{i}", {"status": "completed"}, tmp_path).id for i in range(3)}
    assert {r["id"] for r in list_runs(tmp_path)} >= ids


def test_an_unknown_run_is_a_user_error(tmp_path: Path) -> None:
    create_run("x", {"status": "running"}, tmp_path)
    with pytest.raises(ToolkitError, match="nosuch"):
        find_run("nosuch", tmp_path)
