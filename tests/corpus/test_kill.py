"""SIGKILL of tuning workers at random moments: 3 workers, one PostgreSQL study, no trial lost.

Three ``tk tune`` processes (as three machines would run them) share a study in PostgreSQL.
At random moments one of them, preferably one in the middle of a trial, is killed with SIGKILL
(no clean-up of any kind) and started again. Afterwards the study holds exactly the requested
number of finished trials, none RUNNING or WAITING, every killed trial was retried with the same
parameters (those it had drawn), and the best trial's checkpoint loads and submits.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tests.tune.conftest import pg_url  # noqa: F401  (the PostgreSQL fixture)

TRIALS = 6
WORKERS = 3
KILLS = 3
DEADLINE_S = 150  # everything, on a busy 2-core machine

STUDY = """
[study]
name = "{name}"
trials = {trials}
pruner = "none"
sampler = "random"
seed = 1

[fixed]
budget = 1.5         # seconds per trial, so that kills land mid-trial
head_epochs = 100000
eval_every = 5

[[pipelines]]
encoder = "pixels"
loss = "softmax-ce"
head = "linear-probe"
default_space = false
space = {{ head_lr = {{ type = "float", low = 1e-3, high = 0.3, log = true }} }}
"""


def test_random_sigkills_of_three_workers_lose_no_trial(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import optuna
    from optuna.trial import TrialState

    from toolkit.cli import main
    from toolkit.data import load_competition, make_example
    from toolkit.tune.storage import open_storage
    from toolkit.tune.worker import OWNER_ATTR

    env = {
        "TOOLKIT_RUNS": str(tmp_path / "runs"),
        "TOOLKIT_STUDIES": str(tmp_path / "studies"),
        "TOOLKIT_CACHE": str(tmp_path / "cache"),
        "TOOLKIT_SUBMISSIONS": str(tmp_path / "submissions"),
        "TOOLKIT_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "TOOLKIT_DEBUG": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    digits = make_example("digits", tmp_path / "digits")
    load_competition(digits)  # decode once; the workers memory-map the cache

    name = f"kill-{uuid.uuid4().hex[:8]}"
    study_file = tmp_path / f"{name}.toml"
    study_file.write_text(textwrap.dedent(STUDY.format(name=name, trials=TRIALS)))
    cmd = [sys.executable, "-m", "toolkit", "tune", str(study_file), str(digits)]
    cmd += ["--storage", pg_url, "--quiet"]
    full_env = dict(os.environ, **env)

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL)

    def study() -> optuna.Study:
        return optuna.load_study(study_name=name, storage=open_storage(pg_url))

    rng = random.Random(6)
    workers = [spawn() for _ in range(WORKERS)]
    start = time.monotonic()
    kills: list[dict[str, object]] = []
    try:
        while len(kills) < KILLS and time.monotonic() - start < DEADLINE_S:
            time.sleep(rng.uniform(0.5, 2.0))
            try:
                running = study().get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            except KeyError:  # the study is not created yet
                continue
            owners = {t.system_attrs.get(OWNER_ATTR, "").rpartition(":")[2] for t in running}
            alive = [i for i, p in enumerate(workers) if p.poll() is None]
            if not alive:
                break
            busy = [i for i in alive if str(workers[i].pid) in owners]
            victim = rng.choice(busy if busy and rng.random() < 0.8 else alive)
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            kills.append({"worker": victim, "mid_trial": victim in busy})
            if len(kills) < KILLS:  # after the last kill, the two others finish the study
                workers[victim] = spawn()
        for p in workers:
            p.wait(timeout=max(1.0, DEADLINE_S - (time.monotonic() - start)))
        codes = [p.returncode for p in workers]
        assert codes.count(-signal.SIGKILL) == 1 and codes.count(0) == WORKERS - 1, codes

        trials = study().get_trials(deepcopy=False)
        states = [t.state for t in trials]
        finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        failed = [t for t in trials if t.state == TrialState.FAIL]
        assert len(kills) == KILLS and any(k["mid_trial"] for k in kills), kills
        assert len(finished) == TRIALS, states
        assert TrialState.RUNNING not in states and TrialState.WAITING not in states, states
        # Every killed trial was failed as "died" and retried with the same parameters.
        assert all("died" in (t.user_attrs.get("error") or "") for t in failed), failed
        for dead in failed:
            retries = [t for t in trials if t.user_attrs.get("retry_of") == dead.number]
            # (a trial killed before it sampled anything has no parameters to keep)
            assert retries and dead.params.items() <= retries[0].params.items()
        lost = [
            t for t in failed if not any(r.user_attrs.get("retry_of") == t.number for r in trials)
        ]
        assert not lost

        # The best trial's checkpoint loads and submits (a validated CSV is written).
        capsys.readouterr()
        try:
            main(["submit", "--study", name, "--storage", pg_url, "--json"])
        except SystemExit as exc:
            assert exc.code in (0, None), capsys.readouterr().err
        record = json.loads(capsys.readouterr().out)
        assert Path(record["csv_path"]).is_file()
        main(["submit", "validate", record["csv_path"], str(digits)])
        print(
            f"\nkills: {len(kills)} ({sum(bool(k['mid_trial']) for k in kills)} mid-trial), "
            f"trials: {len(finished)} finished, {len(failed)} failed and retried, lost: 0"
        )
    finally:
        for p in workers:
            if p.poll() is None:
                p.kill()
                p.wait()
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=name, storage=pg_url)
