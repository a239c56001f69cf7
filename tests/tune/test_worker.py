"""The worker loop: its pruning hook, stale and killed trials, resuming."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from tests.tune.conftest import load_study, trial_states, write_study
from toolkit.tune import load_spec, parse_spec, trial_rows, tune
from toolkit.tune.storage import default_url, open_storage
from toolkit.tune.worker import OWNER_ATTR, recover_stale, run_trial

PROBE = {"encoder": "pixels", "loss": "softmax-ce", "head": "linear-probe"}


class PruneAlways(optuna.pruners.BasePruner):
    """Says "prune" whenever it is asked, and counts the questions."""

    def __init__(self) -> None:
        self.asked: list[int | None] = []

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        self.asked.append(trial.last_step)
        return True


@pytest.mark.parametrize(("head_epochs", "state"), [(1, "COMPLETE"), (3, "PRUNED")])
def test_a_trial_is_not_pruned_at_its_last_evaluation(
    tune_env: Path, digits: Any, head_epochs: int, state: str
) -> None:
    """A pruner that always prunes: a 1-evaluation trial completes, a longer one stops at 1."""
    spec = parse_spec(
        {
            "study": {"sampler": "random", "seed": 0},
            "fixed": {"head_epochs": head_epochs, "threads": 1},
            "pipelines": [{**PROBE, "default_space": False, "space": {"head_lr": [0.01]}}],
        },
        name="always",
    )
    pruner = PruneAlways()
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trial = study.ask()
    assert run_trial(study, trial, spec, digits, "memory", quiet=True) == TrialState[state]
    frozen = study.trials[0]
    assert frozen.state == TrialState[state]
    assert frozen.user_attrs["planned_evals"] == head_epochs
    if state == "COMPLETE":
        assert pruner.asked == [] and list(frozen.intermediate_values) == [1]
    else:
        assert pruner.asked == [1] and frozen.user_attrs["pruned_at_eval"] == 1


def test_the_hook_asks_training_to_stop_and_the_trial_ends_pruned(
    tune_env: Path, digits: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook answers True (it never raises); training's Pruned becomes Optuna's PRUNED."""
    import toolkit.train
    from toolkit.train import Pruned

    answers: list[bool] = []

    def fake_train(config: Any, comp: Any, **kwargs: Any) -> Any:
        for step in (1, 2, 3):
            answers.append(kwargs["report"](step, 0.5))
            if answers[-1]:
                raise Pruned(f"pruned at evaluation {step} (score 0.5000)")
        raise AssertionError("the hook never asked to stop")

    monkeypatch.setattr(toolkit.train, "train", fake_train, raising=False)
    spec = parse_spec(
        {
            "fixed": {"head_epochs": 3},
            "pipelines": [{**PROBE, "default_space": False, "space": {"head_lr": [0.01]}}],
        },
        name="hook",
    )
    study = optuna.create_study(direction="maximize", pruner=PruneAlways())
    trial = study.ask()
    assert run_trial(study, trial, spec, digits, "memory", quiet=True) == TrialState.PRUNED
    assert answers == [True]  # asked at the first evaluation, stopped there
    assert study.trials[0].state == TrialState.PRUNED
    assert study.trials[0].user_attrs["pruned_at_eval"] == 1


def test_pruning_prunes(tune_env: Path, digits_path: Path) -> None:
    path = write_study(tune_env, trials=10, pruner="median", epochs=15)
    spec = load_spec(path)
    tune(spec, str(digits_path), workers=1, quiet=True)
    rows = trial_rows(spec.name)
    pruned = [r for r in rows if r["state"] == "pruned"]
    assert pruned, "no trial was pruned although learning rates span four decades"
    assert all(r["pruned_at_eval"] is not None for r in pruned)
    assert sum(r["state"] in ("complete", "pruned") for r in rows) == 10


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
                study = load_study(spec.name, pg_url)
            except Exception:
                continue
            running = [t for t in study.trials if t.state == TrialState.RUNNING]
            if running and len(study.trials) >= 2:
                proc.send_signal(signal.SIGKILL)  # mid-trial, no chance to clean up
                proc.wait()
                killed_running = True
                break
        assert killed_running, "the worker never reached a second trial"
        study = load_study(spec.name, pg_url)
        assert any(t.state == TrialState.RUNNING for t in study.trials)
        # The same command resumes; the dead worker's trial is failed and retried.
        result = subprocess.run(cmd, env=dict(os.environ, TOOLKIT_THREADS="2"), timeout=300)
        assert result.returncode == 0
        study = load_study(spec.name, pg_url)
        states = trial_states(study)
        assert states.get("RUNNING", 0) == 0 and states.get("WAITING", 0) == 0
        assert states.get("COMPLETE", 0) + states.get("PRUNED", 0) == 5, states
        failed = [t for t in study.trials if t.state == TrialState.FAIL]
        assert failed and "died" in failed[0].user_attrs["error"]
        retried = [t for t in study.trials if "retry_of" in t.user_attrs]
        assert retried and retried[0].params == failed[0].params
    finally:
        optuna.delete_study(study_name=spec.name, storage=pg_url)


def test_stale_trial_of_a_dead_local_process_is_requeued(tune_env: Path) -> None:
    study = optuna.create_study(
        study_name="stale", storage=open_storage(default_url("stale")), direction="maximize"
    )
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    study._storage.set_trial_system_attr(
        trial._trial_id, OWNER_ATTR, f"{socket.gethostname()}:{dead.pid}"
    )
    assert recover_stale(study) == [trial.number]
    states = trial_states(study)
    assert states == {"FAIL": 1, "WAITING": 1}
    assert recover_stale(study) == []  # idempotent


def test_trial_never_owned_is_requeued_after_the_grace_period(
    tune_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.tune import worker

    study = optuna.create_study(
        study_name="unowned", storage=open_storage(default_url("unowned")), direction="maximize"
    )
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    assert recover_stale(study) == []  # a fresh claim is left alone
    monkeypatch.setattr(worker, "UNOWNED_GRACE_S", 0)
    assert recover_stale(study) == [trial.number]
    assert trial_states(study) == {"FAIL": 1, "WAITING": 1}


def test_parameters_whose_worker_keeps_dying_are_not_retried_for_ever(
    tune_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.tune import worker

    study = optuna.create_study(
        study_name="deadly", storage=open_storage(default_url("deadly")), direction="maximize"
    )
    monkeypatch.setattr(worker, "UNOWNED_GRACE_S", 0)  # each claim dies before its owner
    study.enqueue_trial({"x": 0.25})
    for attempt in range(1, worker.MAX_ATTEMPTS + 1):
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        assert trial.params == {"x": 0.25}
        assert trial.user_attrs.get("attempt", 1) == attempt
        recovered = recover_stale(study)
        assert recovered == ([trial.number] if attempt < worker.MAX_ATTEMPTS else [])
    states = trial_states(study)
    assert states == {"FAIL": worker.MAX_ATTEMPTS}  # nothing WAITING: not a fourth time
    last = study.trials[-1]
    assert last.user_attrs["error"].endswith(
        f"died in all {worker.MAX_ATTEMPTS} attempts with these parameters: not retried"
    )
    assert last.user_attrs["retry_of"] == study.trials[-2].number
