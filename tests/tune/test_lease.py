"""Trials whose worker died on another host: leases (journals), heartbeats (PostgreSQL).

The end-to-end tests give a worker another hostname with ``unshare --uts`` (a new UTS
namespace: same processes and network, its own hostname), so the owner check (host + pid) cannot
see it die and only its stopped heartbeats can.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from tests._cli import run_main
from tests.tune.conftest import load_study, trial_states, write_study
from toolkit.errors import ToolkitError
from toolkit.tune import load_spec, tune
from toolkit.tune.lease import LEASE_ATTR, Lease, LeaseWatch, renew
from toolkit.tune.storage import GRACE_ENV, HEARTBEAT_ENV, default_url, grace_s, open_storage
from toolkit.tune.worker import OWNER_ATTR, recover_stale

OTHER_HOST = "other-host"
UNDER_OTHER_HOST = ["unshare", "--uts", "sh", "-c", f'hostname {OTHER_HOST} && exec "$@"', "sh"]
FAST = {HEARTBEAT_ENV: "1", GRACE_ENV: "3"}  # heartbeat every second, dead after 3 without


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def journal_study(name: str) -> optuna.Study:
    return optuna.create_study(
        study_name=name, storage=open_storage(default_url(name)), direction="maximize"
    )


def claimed(study: optuna.Study, owner: str, beat: int | None = 0) -> optuna.Trial:
    """A RUNNING trial claimed by ``owner`` ("host:pid"), with lease beat ``beat``."""
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    if beat is not None:
        assert renew(study._storage, trial._trial_id, beat, 5.0)
    study._storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR, owner)
    return trial


def test_a_lease_expires_only_when_its_beat_stays_the_same_for_its_grace(tune_env: Path) -> None:
    study = journal_study("watch")
    trial = claimed(study, f"{OTHER_HOST}:1", beat=0)
    clock = Clock()
    watch = LeaseWatch(60.0, clock=clock)

    def expired() -> bool:
        return watch.expired(study._storage.get_trial(trial._trial_id))

    assert not expired()  # first sight: nothing is known yet
    clock.now += 4.9
    assert not expired()  # the owner's grace (5 s), not the watch's (60 s), applies
    renew(study._storage, trial._trial_id, 1, 5.0)
    clock.now += 4.9
    assert not expired()  # a new beat restarts the count, from when it is seen
    clock.now += 4.9
    assert not expired()
    clock.now += 0.1
    assert expired()  # 5 s on beat 1
    # A trial owned without a lease (an older toolkit's) gets the watch's own grace.
    legacy = claimed(study, f"{OTHER_HOST}:2", beat=None)
    frozen = study._storage.get_trial(legacy._trial_id)
    assert watch.grace_of(frozen) == 60.0
    assert not watch.expired(frozen)
    clock.now += 59
    assert not watch.expired(frozen)
    clock.now += 1
    assert watch.expired(frozen)


def test_a_silent_trial_of_another_host_is_failed_and_queued_again(tune_env: Path) -> None:
    study = journal_study("silent")
    trial = claimed(study, f"{OTHER_HOST}:{os.getpid()}")  # that pid lives here: irrelevant
    clock = Clock()
    watch = LeaseWatch(60.0, clock=clock)
    assert recover_stale(study, watch) == []
    assert recover_stale(study) == []  # no watch: a lease never expires
    clock.now += 5
    assert recover_stale(study, watch) == [trial.number]
    assert trial_states(study) == {"FAIL": 1, "WAITING": 1}
    failed = study.trials[0]
    assert (
        failed.user_attrs["error"]
        == f"worker {OTHER_HOST}:{os.getpid()} died (no heartbeat for 5 s)"
    )
    retry = study.trials[1]
    assert retry.user_attrs["retry_of"] == failed.number
    assert retry.system_attrs["fixed_params"] == failed.params  # run again with them
    clock.now += 100
    assert recover_stale(study, watch) == []  # once


def test_a_live_pid_on_this_host_does_not_keep_a_silent_trial_alive(tune_env: Path) -> None:
    """The pid may be another process's by now (reused): the lease decides."""
    import socket

    study = journal_study("reused")
    trial = claimed(study, f"{socket.gethostname()}:{os.getpid()}")
    clock = Clock()
    watch = LeaseWatch(60.0, clock=clock)
    assert recover_stale(study, watch) == []
    clock.now += 5
    assert recover_stale(study, watch) == [trial.number]


def test_the_lease_thread_renews_through_the_journal_until_joined(tune_env: Path) -> None:
    """Another storage object on the same file (another worker) sees the beats go up; once the
    thread stops (its worker died) the beat stays, and the trial is failed after the grace."""
    study = journal_study("beats")
    trial = claimed(study, f"{OTHER_HOST}:1")
    observer = optuna.load_study(study_name="beats", storage=open_storage(default_url("beats")))
    lease = Lease(study._storage, trial._trial_id, every_s=0.05, grace_s=2.0)
    lease.start()
    seen: set[int] = set()
    deadline = time.monotonic() + 20
    while len(seen) < 4 and time.monotonic() < deadline:
        seen.add(observer.trials[0].system_attrs[LEASE_ATTR]["beat"])
        time.sleep(0.02)
    lease.join()
    assert len(seen) >= 4, f"the observer saw beats {sorted(seen)}"
    assert observer.trials[0].system_attrs[LEASE_ATTR]["grace_s"] == 2.0
    clock = Clock()
    watch = LeaseWatch(60.0, clock=clock)
    assert recover_stale(observer, watch) == []
    clock.now += 2
    assert recover_stale(observer, watch) == [trial.number]
    # A lease on a finished trial stops by itself.
    assert not renew(study._storage, trial._trial_id, 99, 2.0)
    ended = Lease(study._storage, trial._trial_id, every_s=0.05, grace_s=2.0)
    ended.start()
    ended._thread.join(timeout=20)
    assert not ended._thread.is_alive()


def test_heartbeat_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert grace_s() == 60
    monkeypatch.setenv(HEARTBEAT_ENV, "2")
    monkeypatch.setenv(GRACE_ENV, "4")
    assert grace_s() == 4
    monkeypatch.setenv(GRACE_ENV, "3")
    with pytest.raises(ToolkitError, match="shorter than two heartbeats"):
        grace_s()
    monkeypatch.setenv(HEARTBEAT_ENV, "0.5")
    with pytest.raises(ToolkitError, match="not a whole number of seconds"):
        grace_s()


def test_a_bad_heartbeat_setting_is_one_line_before_anything_is_written(
    tune_env: Path, digits_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    path = write_study(tune_env, trials=1)
    monkeypatch.setenv(GRACE_ENV, "5")  # heartbeats every 10 s by default
    before = sorted(p for p in tune_env.rglob("*"))
    code, out, err = run_main(capsys, "tune", str(path), str(digits_path), "--quiet")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: TOOLKIT_HEARTBEAT_GRACE_S=5 is")
    assert "Traceback" not in err
    assert sorted(p for p in tune_env.rglob("*")) == before


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--uts", "sh", "-c", f"hostname {OTHER_HOST}"], capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.parametrize("storage", ["journal", "postgresql"])
def test_a_worker_killed_on_another_host_costs_no_trial(
    tune_env: Path,
    digits_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    storage: str,
) -> None:
    """A worker under another hostname claims a trial and is SIGKILLed mid-training; a worker
    here then finishes the study with its 3 trials: the dead one failed (no heartbeat) and
    retried with its parameters, none left RUNNING or WAITING."""
    if not _unshare_works():
        pytest.skip("unshare --uts is not permitted here (needs root or user namespaces)")
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    path = write_study(tune_env, trials=3)
    spec = load_spec(path)
    url = request.getfixturevalue("pg_url") if storage == "postgresql" else default_url(spec.name)
    remote = [sys.executable, "-m", "toolkit", "tune", str(path), str(digits_path)]
    remote += ["--storage", url, "--set", "head_epochs=100000", "--quiet"]  # trains for ever
    log = tune_env / "remote.log"
    try:
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [*UNDER_OTHER_HOST, *remote],
                env=dict(os.environ, TOOLKIT_THREADS="1"),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                victim = _wait_for_remote_trial(spec.name, url, proc)
            finally:
                proc.send_signal(signal.SIGKILL)  # mid-trial: no chance to clean up
                proc.wait()
        assert victim is not None, f"the remote worker never started a trial: {log.read_text()}"
        running = load_study(spec.name, url).trials[0]
        assert running.state == TrialState.RUNNING  # the SIGKILL left it so
        # A timeout, so that a trial never recovered fails the test instead of hanging it.
        tune(replace(spec, timeout=60), str(digits_path), storage=url, workers=1, quiet=True)
        study = load_study(spec.name, url)
        states = trial_states(study)
        assert states == {"FAIL": 1, "COMPLETE": 3}, states
        failed = next(t for t in study.trials if t.state == TrialState.FAIL)
        assert failed.number == victim.number
        assert failed.user_attrs["error"] == (
            f"worker {OTHER_HOST}:{proc.pid} died (no heartbeat for 3 s)"
        )
        retried = [t for t in study.trials if t.user_attrs.get("retry_of") == failed.number]
        assert len(retried) == 1 and retried[0].params == failed.params
        assert retried[0].system_attrs[OWNER_ATTR].rpartition(":")[0] != OTHER_HOST
    finally:
        if storage == "postgresql":
            with contextlib.suppress(KeyError):
                optuna.delete_study(study_name=spec.name, storage=url)


def _wait_for_remote_trial(
    name: str, url: str, proc: subprocess.Popen[bytes]
) -> optuna.trial.FrozenTrial | None:
    """The trial the remote worker is training, once its heartbeats run; None if it exits."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.3)
        try:
            trials = load_study(name, url).trials
        except Exception:  # not created yet
            continue
        for t in trials:
            remote = t.system_attrs.get(OWNER_ATTR, "").startswith(f"{OTHER_HOST}:")
            if t.state == TrialState.RUNNING and remote and "pipeline" in t.user_attrs:
                return t  # training has begun, so have its heartbeats
    return None
