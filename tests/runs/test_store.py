"""Run folders: created with a record, found by id or prefix, listed, updated in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.errors import ToolkitError, WriteError
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


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("null", "holds null, not a run record"),
        ("[1, 2]", "holds [1, 2], not a run record"),
        ('{"status": "completed", "config": 3}', "its 'config' is 3"),
        ('{"metrics": "high"}', "its 'metrics' is \"high\""),
        ("{half", "not JSON"),
    ],
)
def test_a_damaged_record_is_one_line_naming_it(tmp_path: Path, text: str, problem: str) -> None:
    run = create_run("x", {"status": "running"}, tmp_path)
    run.file("run.json").write_text(text)
    with pytest.raises(ToolkitError, match=r"run\.json is damaged") as err:
        find_run(run.id, tmp_path).read()
    message = str(err.value)
    assert problem in message and "delete the run folder" in message and "\n" not in message


def test_the_listing_skips_a_damaged_record_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = create_run("good", {"status": "completed"}, tmp_path)
    bad = create_run("bad", {"status": "completed"}, tmp_path)
    bad.file("run.json").write_text("null")
    assert [r["id"] for r in list_runs(tmp_path)] == [good.id]
    (record,) = caplog.records
    assert record.levelname == "WARNING" and f"{bad.id}/run.json is damaged" in record.message


def test_no_run_folder_is_left_when_its_record_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit import io

    def full(path: object, data: object) -> None:
        raise io.write_error(str(path), OSError(28, "No space left on device"))

    monkeypatch.setattr(io, "write_json", full)
    with pytest.raises(WriteError, match=r"run\.json: no space left on device"):
        create_run("x", {"status": "running"}, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_run_folder_blocked_by_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("x")
    with pytest.raises(WriteError, match="a file is in the way"):
        create_run("x", {"status": "running"}, tmp_path / "runs")
