"""Fixtures for training tests: the bundled digits competition, made once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.data import Competition


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits example competition (scikit-learn's real 8x8 digits, Kaggle layout)."""
    from toolkit.data import make_example

    return make_example("digits", tmp_path_factory.mktemp("comp") / "digits")


@pytest.fixture(scope="session")
def digits(digits_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Competition:
    """The loaded digits competition (cache in a temporary folder)."""
    import os

    from toolkit.data import load_competition

    old = os.environ.get("TOOLKIT_CACHE")
    os.environ["TOOLKIT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        return load_competition(digits_dir)
    finally:
        if old is None:
            os.environ.pop("TOOLKIT_CACHE", None)
        else:
            os.environ["TOOLKIT_CACHE"] = old


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Runs go to a temporary folder."""
    root = tmp_path / "runs"
    monkeypatch.setenv("TOOLKIT_RUNS", str(root))
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    yield root
