"""The noise guard through the CLI: intervals in `tk runs`, a warning from `tk submit`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests._cli import run_main


@pytest.fixture
def twin_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str]:
    """Two runs with identical validation predictions (one trained, one its copy)."""
    from toolkit.data import make_example

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOOLKIT_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    comp = make_example("digits", tmp_path / "digits")
    code, out, err = run_main(
        capsys,
        "train",
        str(comp),
        "-e",
        "pixels",
        "--head",
        "linear-probe",
        "--set",
        "head_epochs=3",
        "-q",
        "--json",
    )
    assert code == 0, err
    first = json.loads(out)["run_id"]
    second = first[:-4] + "beef"
    shutil.copytree(tmp_path / "runs" / first, tmp_path / "runs" / second)
    record_file = tmp_path / "runs" / second / "run.json"
    record = json.loads(record_file.read_text())
    record["id"] = second
    record_file.write_text(json.dumps(record))
    return first, second


def test_runs_show_intervals_and_the_twin_is_within_noise(
    twin_runs: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, "runs", "--json")
    assert code == 0, err
    rows = {r["id"]: r for r in json.loads(out)}
    for run_id in twin_runs:
        low, high = rows[run_id]["val_interval"]["low"], rows[run_id]["val_interval"]["high"]
        assert low <= rows[run_id]["metrics"]["val_acc"] <= high and low < high
    verdicts = sorted(rows[i]["vs_best"]["verdict"] for i in twin_runs)
    assert verdicts == ["best", "within noise"]


def test_submit_warns_when_the_lead_is_within_noise(
    twin_runs: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(capsys, "submit", "--run", twin_runs[0], "-q")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "within noise" in warnings[0] and "50%" in warnings[0]
