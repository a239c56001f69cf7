"""The worker process's entry point: errors end it the way ``tk`` does (one line, exit 2).

A whole multi-worker study through it is in test_launch.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.tune.worker_main import main


def test_a_missing_job_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLKIT_DEBUG", "0")
    assert main([str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read worker job") and err.count("\n") == 1


def test_it_runs_as_a_module_with_the_working_folder_off_sys_path(tmp_path: Path) -> None:
    (tmp_path / "toolkit.py").write_text("raise SystemExit('the working folder was imported')\n")
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "toolkit.tune.worker_main"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("usage:"), proc.stderr
