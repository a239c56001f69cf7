"""Fixtures for tuning tests: a digits competition, temporary runs/studies folders, PostgreSQL;
helpers: quick study files (:func:`write_study`) and reading a study back."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import optuna

PG_URL = os.environ.get("TOOLKIT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

# A quick pipeline (softmax regression on pixels) so that studies take seconds.
QUICK_STUDY = """
[study]
name = "{name}"
trials = {trials}
pruner = "{pruner}"
sampler = "random"
seed = 0
keep_checkpoints = {keep}

[fixed]
head_epochs = {epochs}
eval_every = 0

[[pipelines]]
encoder = "pixels"
loss = "softmax-ce"
head = "linear-probe"
default_space = false
space = {{ head_lr = {{ type = "float", low = 1e-5, high = 0.3, log = true }} }}
"""


@pytest.fixture(scope="session")
def digits_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from toolkit.data import make_example

    return make_example("digits", tmp_path_factory.mktemp("comp") / "digits")


@pytest.fixture(scope="session")
def digits(digits_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The digits competition, loaded (a toolkit.data.Competition)."""
    from toolkit.data import load_competition

    return load_competition(digits_path, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def tune_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Runs, studies and the data cache in a temporary folder (for this process and workers)."""
    for var, sub in (("TOOLKIT_RUNS", "runs"), ("TOOLKIT_STUDIES", "studies")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path.parent / "shared-cache"))
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def write_study(
    folder: Path,
    *,
    name: str | None = None,
    trials: int = 4,
    pruner: str = "none",
    keep: int = 3,
    epochs: int = 4,
) -> Path:
    """A quick study file; returns its path."""
    name = name or f"t{uuid.uuid4().hex[:8]}"
    path = folder / f"{name}.toml"
    path.write_text(
        textwrap.dedent(
            QUICK_STUDY.format(name=name, trials=trials, pruner=pruner, keep=keep, epochs=epochs)
        )
    )
    return path


def load_study(name: str, url: str) -> optuna.Study:
    """The study ``name`` in storage ``url``, as Optuna itself opens it."""
    import optuna

    from toolkit.tune.storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(url))


def trial_states(study: optuna.Study) -> dict[str, int]:
    """How many trials are in each state: {"COMPLETE": 3, "PRUNED": 1, ...}."""
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The real PostgreSQL of this machine; its absence fails CI rather than skipping."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
        engine.dispose()
    except Exception as err:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI: {err}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {err}")
    return PG_URL
