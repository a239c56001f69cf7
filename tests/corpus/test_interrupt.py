"""Ctrl-C (SIGINT) during ``tk train`` and ``tk tune``, in real subprocesses.

A run interrupted mid-training exits non-zero with one line and no traceback, is marked
``interrupted``, and its best checkpoint so far loads and predicts. A study interrupted
mid-trial holds no RUNNING trial (the interrupted one is FAIL and queued again as WAITING),
and the same ``tk tune`` command then finishes it with exactly the requested trials.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

STOP_WITHIN_S = 20  # the process must be gone this long after SIGINT
START_WITHIN_S = 90  # a cold start (imports, decoding digits) on a busy 2-core machine


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from toolkit.data import make_example

    return make_example("digits", tmp_path_factory.mktemp("interrupt") / "digits")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Runs, studies and cache in tmp_path, for the subprocess and for this process."""
    values = {
        "TOOLKIT_RUNS": str(tmp_path / "runs"),
        "TOOLKIT_STUDIES": str(tmp_path / "studies"),
        "TOOLKIT_CACHE": str(tmp_path / "cache"),
        "TOOLKIT_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TOOLKIT_DEBUG", raising=False)
    yield dict(os.environ, **values)


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "toolkit", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_metrics(proc: subprocess.Popen[str], runs: Path, skip: set[Path]) -> Path:
    """The run folder (not in ``skip``) whose metrics.csv first has a data row."""
    deadline = time.monotonic() + START_WITHIN_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"exited early ({proc.returncode}) before training: {err}{out}")
        for metrics in runs.glob("*/metrics.csv") if runs.is_dir() else []:
            if metrics.parent not in skip and len(metrics.read_text().splitlines()) >= 2:
                return metrics.parent
        time.sleep(0.1)
    proc.kill()
    pytest.fail("no metrics.csv row appeared in time")


def interrupt(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGINT, then wait: (exit code, stderr)."""
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=STOP_WITHIN_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"still running {STOP_WITHIN_S}s after SIGINT")
    return proc.returncode, err


def assert_clean_interrupt(code: int, err: str) -> None:
    assert code != 0
    assert "Traceback" not in err, err
    assert err.strip().splitlines() == ["interrupted"], err


def assert_loads_and_predicts(run_path: Path, digits: Path) -> None:
    from toolkit.data import load_competition
    from toolkit.train.model import load_model

    model = load_model(str(run_path))
    x = load_competition(digits).x_test[:16]
    probs = np.asarray(model.predict_probs(x))
    assert probs.shape == (16, 10)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)


def test_ctrl_c_during_train(digits: Path, env: dict[str, str], tmp_path: Path) -> None:
    args = ["train", str(digits), "--encoder", "pixels", "--loss", "softmax-ce"]
    args += ["--head", "linear-probe", "--set", "head_epochs=100000", "--set", "eval_every=5"]
    proc = start([*args, "--quiet"], env, tmp_path)
    run_path = wait_for_metrics(proc, tmp_path / "runs", set())
    code, err = interrupt(proc)
    assert_clean_interrupt(code, err)
    record = json.loads((run_path / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert "Ctrl-C" in record["error"]
    assert_loads_and_predicts(run_path, digits)


STUDY = """
[study]
name = "ctrl-c"
trials = 2
pruner = "none"
sampler = "random"
seed = 0

[fixed]
budget = 4          # seconds per trial: long enough to be interrupted, short enough to finish
head_epochs = 100000
eval_every = 5

[[pipelines]]
encoder = "pixels"
loss = "softmax-ce"
head = "linear-probe"
default_space = false
space = { head_lr = { type = "float", low = 1e-3, high = 0.3, log = true } }
"""


def test_ctrl_c_during_tune_then_resume(digits: Path, env: dict[str, str], tmp_path: Path) -> None:
    import optuna

    from toolkit.tune.storage import default_url, open_storage

    study_file = tmp_path / "ctrl-c.toml"
    study_file.write_text(textwrap.dedent(STUDY))
    command = ["tune", str(study_file), str(digits), "--quiet"]

    proc = start(command, env, tmp_path)
    run_path = wait_for_metrics(proc, tmp_path / "runs", set())
    code, err = interrupt(proc)
    assert_clean_interrupt(code, err)
    assert json.loads((run_path / "run.json").read_text())["status"] == "interrupted"
    assert_loads_and_predicts(run_path, digits)

    def states() -> dict[str, list[optuna.trial.FrozenTrial]]:
        study = optuna.load_study(study_name="ctrl-c", storage=open_storage(default_url("ctrl-c")))
        out: dict[str, list[optuna.trial.FrozenTrial]] = {}
        for t in study.get_trials(deepcopy=False):
            out.setdefault(t.state.name, []).append(t)
        return out

    after_interrupt = states()
    assert "RUNNING" not in after_interrupt, after_interrupt
    [failed] = after_interrupt["FAIL"]
    assert "interrupted" in failed.user_attrs["error"]
    [waiting] = after_interrupt["WAITING"]

    resumed = subprocess.run(
        [sys.executable, "-m", "toolkit", *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stderr
    final = states()
    assert len(final.get("COMPLETE", [])) + len(final.get("PRUNED", [])) == 2, final
    assert not final.get("RUNNING") and not final.get("WAITING"), final
    retried = [t for t in final["COMPLETE"] if t.user_attrs.get("retry_of") == failed.number]
    assert retried and retried[0].params == failed.params
    assert waiting.number == retried[0].number
