"""Fixtures for submission tests: the digits example and two tiny trained runs.

The runs (pixels + linear probe, 5 head epochs, a few seconds each) are trained once per session
into a temporary runs folder; every test gets its own submissions folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._runs import tiny_run
from toolkit.data import Competition

SESSION_ENV = ("TOOLKIT_CACHE", "TOOLKIT_RUNS")


@pytest.fixture(scope="session")
def session_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Cache and runs folders for the whole session (restored afterwards)."""
    dirs = {
        "TOOLKIT_CACHE": tmp_path_factory.mktemp("cache"),
        "TOOLKIT_RUNS": tmp_path_factory.mktemp("runs"),
    }
    old = {k: os.environ.get(k) for k in SESSION_ENV}
    os.environ.update({k: str(v) for k, v in dirs.items()})
    yield dirs
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def digits_dir(session_env: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from toolkit.data import make_example

    return make_example("digits", tmp_path_factory.mktemp("comp") / "digits")


@pytest.fixture(scope="session")
def digits(digits_dir: Path) -> Competition:
    from toolkit.data import load_competition

    return load_competition(digits_dir)


@pytest.fixture(scope="session")
def trained(digits: Competition, session_env: dict[str, Path]) -> list[Path]:
    """Folders of two tiny runs on digits (seeds 0 and 1)."""
    return [tiny_run(digits, seed=seed) for seed in (0, 1)]


@pytest.fixture(autouse=True)
def submissions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test writes submissions to its own folder."""
    root = tmp_path / "submissions"
    monkeypatch.setenv("TOOLKIT_SUBMISSIONS", str(root))
    return root
