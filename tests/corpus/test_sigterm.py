"""SIGTERM (what clusters send to preempt a job) and a launcher that dies, in real processes.

SIGTERM is treated like Ctrl-C: ``tk train`` marks its run interrupted, keeps the best weights
so far and exits 143 with one line; ``tk tune --workers`` passes it on to its workers, which
re-queue their trials; a worker whose launcher was killed outright stops by itself.
"""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from pathlib import Path

import pytest

from tests.corpus.test_interrupt import (
    STOP_WITHIN_S,
    assert_loads_and_predicts,
    digits,  # noqa: F401  (fixture)
    env,  # noqa: F401  (fixture)
    start,
    wait_for_metrics,
)
from tests.corpus.test_interrupt import STUDY as INTERRUPT_STUDY

# The Ctrl-C study with longer trials: still training when the signal comes.
STUDY = (
    INTERRUPT_STUDY.replace('name = "ctrl-c"', 'name = "sigterm"')
    .replace("trials = 2", "trials = 4")
    .replace("budget = 4 ", "budget = 30 ")
)


def workers_of(runs: Path) -> list[int]:
    """Pids of tuning worker processes writing runs under ``runs``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"toolkit.tune.worker_main" in cmdline and f"TOOLKIT_RUNS={runs}".encode() in environ:
            found.append(int(proc.name))
    return found


def wait_until_gone(runs: Path) -> list[int]:
    deadline = time.monotonic() + STOP_WITHIN_S
    while (left := workers_of(runs)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:  # do not leave them training after a failed test
        os.kill(pid, signal.SIGKILL)
    return left


def no_trial_running(name: str) -> dict[str, int]:
    import optuna

    from toolkit.tune.storage import default_url, open_storage

    study = optuna.load_study(study_name=name, storage=open_storage(default_url(name)))
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    assert "RUNNING" not in counts, counts
    return counts


def test_sigterm_during_train_ends_it_as_interrupted(
    digits: Path,  # noqa: F811
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    args = ["train", str(digits), "--encoder", "pixels", "--loss", "softmax-ce"]
    args += ["--head", "linear-probe", "--set", "head_epochs=100000", "--set", "eval_every=5"]
    proc = start([*args, "--quiet"], env, tmp_path)
    run_path = wait_for_metrics(proc, tmp_path / "runs", set())
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=STOP_WITHIN_S)
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == ["terminated"], err
    record = json.loads((run_path / "run.json").read_text())
    assert record["status"] == "interrupted" and "SIGTERM" in record["error"]
    assert_loads_and_predicts(run_path, digits)


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_a_stopped_launcher_leaves_no_worker_training(
    how: str,
    digits: Path,  # noqa: F811
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """SIGTERM to ``tk tune --workers 2``: it stops its workers; SIGKILL: they notice."""
    study_file = tmp_path / "sigterm.toml"
    study_file.write_text(textwrap.dedent(STUDY))
    runs = tmp_path / "runs"
    proc = start(
        ["tune", str(study_file), str(digits), "--workers", "2", "--quiet"], env, tmp_path
    )
    wait_for_metrics(proc, runs, set())
    assert len(workers_of(runs)) == 2
    proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
    _, err = proc.communicate(timeout=STOP_WITHIN_S)
    if how == "sigterm":
        assert proc.returncode == 143 and "Traceback" not in err, err
    assert wait_until_gone(runs) == []  # no worker trains on
    counts = no_trial_running("sigterm")  # interrupted trials were re-queued, not left RUNNING
    assert counts.get("WAITING", 0) >= 1, counts
    for record in runs.glob("*/run.json"):
        assert json.loads(record.read_text())["status"] != "running", record
