"""A worker's job file: the whole spec round-trips as JSON, readable by its owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from toolkit.errors import ToolkitError
from toolkit.tune import load_spec
from toolkit.tune.job import WorkerJob, read_job, write_job

STUDIES = Path(__file__).resolve().parents[2] / "toolkit" / "studies"  # the shipped examples


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.toml")), ids=lambda p: p.name)
def test_a_job_round_trips_through_its_file(tmp_path: Path, path: Path) -> None:
    spec = load_spec(path, overrides={"name": "renamed", "trials": 3, "timeout": 90.0})
    job = WorkerJob(spec, "data/x", "postgresql://u:secret@h/db", ("/p/plugin.py",), quiet=True)
    written = write_job(job, tmp_path / "job.json")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600  # the URL may hold a password
    assert read_job(written) == job


def test_an_unreadable_job_is_one_line_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "job.json"
    bad.write_text("{not json")
    with pytest.raises(ToolkitError, match=r"cannot read worker job .*job\.json") as info:
        read_job(bad)
    assert "\n" not in str(info.value)
