"""A small world to report on: the digits example, one embedding run (fastnet + supcon + linear
probe, one epoch: it has curves, a confusion matrix and a t-SNE), a submission of it, and a study
whose best trial is that run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from toolkit.cli import main


@dataclass(frozen=True)
class World:
    base: Path
    run: Path  # the run folder
    study: str  # a study whose best trial is the run


FOLDERS = {
    "TOOLKIT_CACHE": "cache",
    "TOOLKIT_RUNS": "runs",
    "TOOLKIT_SUBMISSIONS": "subs",
    "TOOLKIT_STUDIES": "studies",
    "TOOLKIT_REPORTS": "reports",
}


def _env(base: Path) -> dict[str, str]:
    return {key: str(base / folder) for key, folder in FOLDERS.items()}


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from tests.tune.test_plots import make_study
    from toolkit.data import load_competition, make_example
    from toolkit.train import TrainConfig, train

    base = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _env(base).items():
            mp.setenv(key, value)
        mp.setenv("TOOLKIT_DEBUG", "0")
        comp = load_competition(make_example("digits", base / "digits"))
        config = TrainConfig(
            loss="supcon", head="linear-probe", epochs=1, head_epochs=3, device="cpu", threads=1
        )
        result = train(config, comp, quiet=True)
        assert result.path is not None and result.status == "completed"
        main(["submit", "--run", result.path.name, "--quiet"])  # a leaderboard entry
        attrs = {"run_id": result.path.name, "run_path": str(result.path)}
        make_study("report-study", 3, metric="accuracy", user_attrs=attrs)
        yield World(base, result.path, "report-study")


@pytest.fixture
def env(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The world's folders, a fresh reports folder; the working folder is ``tmp_path``."""
    for key, value in _env(world.base).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TOOLKIT_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setenv("TOOLKIT_DEBUG", "0")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "reports"


def record(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())
