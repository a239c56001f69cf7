"""Short run ids: a run's random tail stands for it wherever a run id is taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.errors import ToolkitError
from toolkit.runs import find_run
from toolkit.runs.store import RUN_FILE, resolve_run_id, short_run_ids


def make(root: Path, name: str) -> str:
    (root / name).mkdir(parents=True)
    (root / name / RUN_FILE).write_text('{"status": "completed"}')
    return name


A = "20261201-065803-fastnet-softmax-ce-finetune-1a2b"
B = "20261201-065803-pixels-softmax-ce-linear-probe-3c4d"
C = "20261202-101010-fastnet-supcon-linear-probe-1a2b"  # the same tail as A


def test_the_short_id_is_the_tail_and_resolves_to_the_run(tmp_path: Path) -> None:
    make(tmp_path, A), make(tmp_path, B)
    assert short_run_ids([A, B], tmp_path) == {A: "1a2b", B: "3c4d"}
    assert resolve_run_id("1a2b", tmp_path) == A
    assert resolve_run_id("3c4d", tmp_path) == B
    assert resolve_run_id(A, tmp_path) == A
    assert resolve_run_id("20261201-065803-p", tmp_path) == B  # a unique prefix still works
    assert find_run("3c4d", tmp_path).path == tmp_path / B  # so every command takes it


def test_a_shared_tail_shows_the_full_id_and_is_ambiguous(tmp_path: Path) -> None:
    make(tmp_path, A), make(tmp_path, B), make(tmp_path, C)
    assert short_run_ids([A, B, C], tmp_path) == {A: A, B: "3c4d", C: C}
    with pytest.raises(ToolkitError) as err:
        resolve_run_id("1a2b", tmp_path)
    message = str(err.value)
    assert "ambiguous" in message and A in message and C in message and "\n" not in message
    assert resolve_run_id(C, tmp_path) == C


def test_an_id_without_a_random_tail_is_its_own_short_id(tmp_path: Path) -> None:
    make(tmp_path, "my-run")
    assert short_run_ids(["my-run"], tmp_path) == {"my-run": "my-run"}
    with pytest.raises(ToolkitError, match="unknown run 'zzzz'"):
        resolve_run_id("zzzz", tmp_path)
