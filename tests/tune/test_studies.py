"""Real studies: several worker processes, local journal and PostgreSQL storages, kills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.tune.conftest import write_study
from toolkit.tune import load_spec, top_runs, trial_rows, tune
from toolkit.tune.storage import default_url
from toolkit.tune.worker import recover_stale

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _study(name: str, url: str) -> optuna.Study:
    from toolkit.tune.storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(url))


def _states(study: optuna.Study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def test_two_workers_on_the_default_journal_storage(tune_env: Path, digits_path: Path) -> None:
    path = write_study(tune_env, trials=5, keep=2)
    spec = load_spec(path)
    tune(spec, path, str(digits_path), workers=2, quiet=True)
    study = _study(spec.name, default_url(spec.name))
    states = _states(study)
    assert states.get("COMPLETE", 0) + states.get("PRUNED", 0) == 5
    assert states.get("RUNNING", 0) == 0
    owners = {t.system_attrs.get("toolkit_owner") for t in study.trials}
    assert len(owners) == 2  # both worker processes ran trials
    # Only the best two checkpoints are kept; every trial links to its run folder.
    with_weights = [
        t
        for t in study.trials
        if (Path(t.user_attrs["run_path"]) / "checkpoint.safetensors").exists()
    ]
    assert len(with_weights) == 2
    best = top_runs(spec.name, k=1)[0]
    assert best == max(study.trials, key=lambda t: t.value or -1).user_attrs["run_path"]
    # Rerunning the same command resumes: the study is done, so nothing more is run.
    tune(spec, path, str(digits_path), workers=1, quiet=True)
    assert len(_study(spec.name, default_url(spec.name)).trials) == 5


def test_workers_get_the_overrides_and_their_own_seeds(tune_env: Path, digits_path: Path) -> None:
    # Workers re-read the file: `--name` / `--trials` (and `tk run`'s study name) must reach
    # them; and with one seed (the quick study's is 0) both would draw the same parameters.
    path = write_study(tune_env, name="from-file", trials=9)
    spec = load_spec(path, overrides={"name": "overridden", "trials": 4})
    tune(spec, path, str(digits_path), workers=2, quiet=True)
    study = _study("overridden", default_url("overridden"))
    states = _states(study)
    assert states.get("COMPLETE", 0) + states.get("PRUNED", 0) == 4, states
    assert not (tune_env / "studies" / "from-file.journal").exists()
    assert len({t.params["head_lr"] for t in study.trials}) == 4


def test_two_workers_share_one_postgresql_study(
    tune_env: Path, digits_path: Path, pg_url: str
) -> None:
    path = write_study(tune_env, trials=6)
    spec = load_spec(path)
    try:
        tune(spec, path, str(digits_path), storage=pg_url, workers=2, quiet=True)
        study = _study(spec.name, pg_url)
        states = _states(study)
        assert states.get("COMPLETE", 0) + states.get("PRUNED", 0) == 6, states
        assert len({t.system_attrs.get("toolkit_owner") for t in study.trials}) == 2
    finally:
        optuna.delete_study(study_name=spec.name, storage=pg_url)


def test_killed_worker_leaves_no_trial_running_and_resume_completes(
    tune_env: Path, digits_path: Path, pg_url: str
) -> None:
    # Trials of a few seconds: the RUNNING trial seen by the poll (a snapshot that takes a
    # moment to load) must still be running when the kill lands.
    path = write_study(tune_env, trials=5, epochs=200)
    spec = load_spec(path)
    cmd = [
        sys.executable,
        "-m",
        "toolkit",
        "tune",
        str(path),
        str(digits_path),
        "--storage",
        pg_url,
        "--quiet",
    ]
    try:
        proc = subprocess.Popen(cmd, env=dict(os.environ, TOOLKIT_THREADS="1"))
        deadline = time.monotonic() + 120
        killed_running = False
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            try:
                study = _study(spec.name, pg_url)
            except Exception:
                continue
            running = [t for t in study.trials if t.state == TrialState.RUNNING]
            if running and len(study.trials) >= 2:
                proc.send_signal(signal.SIGKILL)  # mid-trial, no chance to clean up
                proc.wait()
                killed_running = True
                break
        assert killed_running, "the worker never reached a second trial"
        study = _study(spec.name, pg_url)
        assert any(t.state == TrialState.RUNNING for t in study.trials)
        # The same command resumes; the dead worker's trial is failed and retried.
        result = subprocess.run(cmd, env=dict(os.environ, TOOLKIT_THREADS="2"), timeout=300)
        assert result.returncode == 0
        study = _study(spec.name, pg_url)
        states = _states(study)
        assert states.get("RUNNING", 0) == 0 and states.get("WAITING", 0) == 0
        assert states.get("COMPLETE", 0) + states.get("PRUNED", 0) == 5, states
        failed = [t for t in study.trials if t.state == TrialState.FAIL]
        assert failed and "died" in failed[0].user_attrs["error"]
        retried = [t for t in study.trials if "retry_of" in t.user_attrs]
        assert retried and retried[0].params == failed[0].params
    finally:
        optuna.delete_study(study_name=spec.name, storage=pg_url)


def test_pruning_prunes(tune_env: Path, digits_path: Path) -> None:
    path = write_study(tune_env, trials=10, pruner="median", epochs=15)
    spec = load_spec(path)
    tune(spec, path, str(digits_path), workers=1, quiet=True)
    rows = trial_rows(spec.name)
    pruned = [r for r in rows if r["state"] == "pruned"]
    assert pruned, "no trial was pruned although learning rates span four decades"
    assert all(r["pruned_at_eval"] is not None for r in pruned)
    assert sum(r["state"] in ("complete", "pruned") for r in rows) == 10


def test_stale_trial_of_a_dead_local_process_is_requeued(tune_env: Path) -> None:
    from toolkit.tune.storage import open_storage
    from toolkit.tune.worker import OWNER_ATTR

    study = optuna.create_study(
        study_name="stale", storage=open_storage(default_url("stale")), direction="maximize"
    )
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    study._storage.set_trial_system_attr(
        trial._trial_id, OWNER_ATTR, f"{socket.gethostname()}:{dead.pid}"
    )
    assert recover_stale(study) == [trial.number]
    states = _states(study)
    assert states == {"FAIL": 1, "WAITING": 1}
    assert recover_stale(study) == []  # idempotent


@pytest.mark.parametrize("cmd", [["study", "list"], ["study", "show"], ["study", "plot"]])
def test_study_commands(
    tune_env: Path, digits_path: Path, cmd: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.cli import main

    path = write_study(tune_env, name="cli", trials=3)
    tune(load_spec(path), path, str(digits_path), workers=1, quiet=True)
    args = cmd + (["cli"] if cmd[1] != "list" else []) + (["--json"] if cmd[1] != "plot" else [])
    try:
        main(args)
    except SystemExit as exit_:
        assert exit_.code in (0, None)
    out = capsys.readouterr().out
    if cmd[1] == "plot":
        assert (tune_env / "studies" / "cli-history.png").stat().st_size > 1000
    else:
        import json

        data = json.loads(out)
        if cmd[1] == "list":
            assert [s["name"] for s in data] == ["cli"] and data[0]["complete"] == 3
        else:
            assert len(data) == 3 and sum(r["best"] for r in data) == 1


def test_trial_never_owned_is_requeued_after_the_grace_period(
    tune_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.tune import worker
    from toolkit.tune.storage import open_storage

    study = optuna.create_study(
        study_name="unowned", storage=open_storage(default_url("unowned")), direction="maximize"
    )
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    assert recover_stale(study) == []  # a fresh claim is left alone
    monkeypatch.setattr(worker, "UNOWNED_GRACE_S", 0)
    assert recover_stale(study) == [trial.number]
    assert _states(study) == {"FAIL": 1, "WAITING": 1}
