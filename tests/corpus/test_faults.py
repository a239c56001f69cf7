"""Faults of the machine and of records on disk, through the real CLI in real processes.

A full disk, a file-size limit (``ulimit -f``), a read-only folder or a file where a folder
should be, while ``tk train``, ``tk submit`` or ``tk tune`` writes: exit code 2, exactly one
line ``error: cannot write PATH: CAUSE; REMEDY``, no traceback, no temporary file left, and a
run's ``run.json`` ends ``failed`` with that reason (never ``running``). Damaged records
(``run.json`` holding ``null``, ``checkpoint.json`` holding ``[]``) are one line naming the file;
a cache entry whose labels were edited is rebuilt, with one note line.

Read-only folders and small disks are made with a bind mount remounted read-only and a tiny
tmpfs (root only: ``chmod`` does not stop root); the tests that need them skip where mounting
is not permitted.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

HANG_S = 1200  # a guard against a hung process only: a starved 2-core machine is slow
TRAIN = ["--encoder", "pixels", "--loss", "softmax-ce", "--head", "linear-probe"]
QUICK = ["--set", "epochs=1", "-q"]
STUDY = """
[study]
name = "faults"
trials = 1
pruner = "none"
sampler = "random"
seed = 0

[fixed]
epochs = 1

[[pipelines]]
encoder = "pixels"
loss = "softmax-ce"
head = "linear-probe"
default_space = false
space = { head_lr = { type = "float", low = 1e-3, high = 0.3, log = true } }
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The digits example, its warm cache and one completed run, shared by the cases."""
    from toolkit.data import make_example

    base = tmp_path_factory.mktemp("faults")
    make_example("digits", base / "D")
    proc = tk(base, "train", "D", *TRAIN, *QUICK, env=_env(base, base / "runs"))
    assert proc.returncode == 0, proc.stderr
    yield base


@pytest.fixture
def case(world: Path, tmp_path: Path) -> Path:
    """A case's working folder: the shared competition and cache, its own runs and outputs."""
    (tmp_path / "D").symlink_to(world / "D")
    return tmp_path


def _env(cwd: Path, runs: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    return env | {
        "TOOLKIT_RUNS": str(runs or cwd / "runs"),
        "TOOLKIT_STUDIES": str(cwd / "studies"),
        "TOOLKIT_SUBMISSIONS": str(cwd / "submissions"),
        "TOOLKIT_CACHE": str(_cache_of(cwd)),
        "TOOLKIT_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


def _cache_of(cwd: Path) -> Path:
    """The shared cache: beside the real D folder (a case's D is a link to it)."""
    return (cwd / "D").resolve().parent / "cache"


def tk(
    cwd: Path, *args: str, env: dict[str, str] | None = None, file_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m toolkit ARGS`` in ``cwd``; ``file_limit``: RLIMIT_FSIZE in bytes."""

    def limit() -> None:
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        cwd=cwd,
        env=env or _env(cwd),
        capture_output=True,
        text=True,
        timeout=HANG_S,
        preexec_fn=limit,
    )


def one_line_error(proc: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 2, no traceback, and stderr is exactly one ``error:`` line holding ``expected``."""
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def only_run(runs: Path) -> tuple[Path, dict[str, object]]:
    """The single run folder under ``runs`` and its record; no temporary file is left in it."""
    folders = [p for p in runs.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    left = [p.name for p in folders[0].iterdir() if p.name.startswith(".")]
    assert not left, left  # atomic writes leave no half-written temporary file
    return folders[0], json.loads((folders[0] / "run.json").read_text())


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` (created) as a read-only bind mount of itself; skips where not permitted."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _mount("--bind", str(folder), str(folder))
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("mounting is not permitted here (a read-only folder needs root)")
    try:
        _mount("-o", "remount,bind,ro", str(folder))
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False, capture_output=True)


@contextlib.contextmanager
def tiny_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder``; skips where mounting is not permitted."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False, capture_output=True)


# -- tk train -----------------------------------------------------------------------------------


def test_train_past_the_file_size_limit_fails_the_run_with_one_line(case: Path) -> None:
    """``ulimit -f`` of 20 KB: the plots (~50 KB) are the first files over it."""
    proc = tk(case, "train", "D", *TRAIN, *QUICK, file_limit=20_000)
    line = one_line_error(proc, "cannot write runs/", ".png", "file too large", "ulimit -f")
    run, record = only_run(case / "runs")
    assert record["status"] == "failed"
    assert record["error"] == line.removeprefix("error: ")
    failed = line.split(": ")[1].removeprefix("cannot write ")
    assert not (case / failed).exists() and (case / failed).parent == run
    assert (run / "checkpoint.safetensors").is_file()  # what was written before is kept


def test_train_checkpoint_over_the_limit_fails_the_run(case: Path) -> None:
    """A 300 KB MLP head over a 100 KB limit: safetensors reports it as its own error type."""
    args = ["train", "D", "--encoder", "pixels", "--loss", "softmax-ce", "--head", "mlp"]
    proc = tk(case, *args, "--set", "head.hidden=1024", *QUICK, file_limit=100_000)
    one_line_error(proc, "cannot write runs/", "checkpoint.safetensors", "file too large")
    run, record = only_run(case / "runs")
    assert record["status"] == "failed" and "checkpoint.safetensors" in str(record["error"])
    assert not (run / "checkpoint.safetensors").exists()


def test_train_when_run_json_cannot_be_written_names_it(case: Path) -> None:
    """A 1 KB limit: not even the first run.json fits; no run folder is left behind."""
    proc = tk(case, "train", "D", *TRAIN, *QUICK, file_limit=1_000)
    one_line_error(proc, "cannot write runs/", "run.json", "file too large")
    assert not any((case / "runs").iterdir())


def test_train_on_a_full_disk_fails_the_run_with_one_line(case: Path) -> None:
    with tiny_disk(case / "runs", "80k") as runs:
        proc = tk(case, "train", "D", *TRAIN, *QUICK)
        line = one_line_error(
            proc, "cannot write runs/", "no space left on device", "$TOOLKIT_RUNS"
        )
        _, record = only_run(runs)
        assert record["status"] == "failed"
        assert record["error"] == line.removeprefix("error: ")


def test_train_into_a_read_only_runs_folder(case: Path) -> None:
    with read_only(case / "runs") as runs:
        proc = tk(case, "train", "D", *TRAIN, *QUICK)
        one_line_error(proc, "cannot write runs/", "read-only file system", "$TOOLKIT_RUNS")
        assert not any(runs.iterdir())


def test_train_when_runs_is_a_file(case: Path) -> None:
    (case / "runs").write_text("not a folder")
    proc = tk(case, "train", "D", *TRAIN, *QUICK)
    one_line_error(proc, "cannot write runs/", "a file is in the way")
    assert (case / "runs").read_text() == "not a folder"


# -- tk submit ----------------------------------------------------------------------------------


def _copy_run(world: Path, case: Path) -> str:
    (source,) = (world / "runs").iterdir()
    shutil.copytree(source, case / "runs" / source.name)
    return source.name


def test_submit_into_a_read_only_submissions_folder(world: Path, case: Path) -> None:
    run_id = _copy_run(world, case)
    with read_only(case / "submissions") as subs:
        proc = tk(case, "submit", "--run", run_id)
        one_line_error(proc, "cannot write submissions/D/", "read-only", "$TOOLKIT_SUBMISSIONS")
        assert not any(subs.iterdir())


def test_submit_on_a_full_disk_leaves_no_half_submission(world: Path, case: Path) -> None:
    """4 KB: the CSV (one page) fits, its provenance JSON does not; the CSV is taken back."""
    run_id = _copy_run(world, case)
    with tiny_disk(case / "submissions", "4k") as subs:
        proc = tk(case, "submit", "--run", run_id)
        one_line_error(proc, "cannot write submissions/D/", ".json", "no space left on device")
        assert [p for p in subs.rglob("*") if p.is_file()] == []


def test_submit_past_the_file_size_limit(world: Path, case: Path) -> None:
    run_id = _copy_run(world, case)
    proc = tk(case, "submit", "--run", run_id, file_limit=1_000)
    one_line_error(proc, "cannot write submissions/D/", ".csv", "file too large")
    assert [p for p in (case / "submissions").rglob("*") if p.is_file()] == []


# -- tk tune ------------------------------------------------------------------------------------


def test_tune_with_a_read_only_studies_folder(case: Path) -> None:
    (case / "faults.toml").write_text(STUDY)
    with read_only(case / "studies"):
        proc = tk(case, "tune", "faults.toml", "D", "-q")
        one_line_error(proc, "studies/faults.journal", "read-only file system", "$TOOLKIT_STUDIES")
    assert not (case / "runs").exists()


def test_tune_when_studies_is_a_file(case: Path) -> None:
    (case / "faults.toml").write_text(STUDY)
    (case / "studies").write_text("not a folder")
    proc = tk(case, "tune", "faults.toml", "D", "-q")
    one_line_error(proc, "studies", "a file is in the way")
    assert (case / "studies").read_text() == "not a folder"


# -- damaged records ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["runs", "show", "{run}"], ["submit", "--run", "{run}"]],
    ids=["runs-show", "submit"],
)
def test_run_json_holding_null(world: Path, case: Path, args: list[str]) -> None:
    run_id = _copy_run(world, case)
    (case / "runs" / run_id / "run.json").write_text("null\n")
    proc = tk(case, *(a.format(run=run_id) for a in args))
    one_line_error(proc, f"runs/{run_id}/run.json is damaged", "delete the run folder")
    assert not (case / "submissions").exists()


def test_listing_skips_a_damaged_run_with_one_line(world: Path, case: Path) -> None:
    good = _copy_run(world, case)
    bad = case / "runs" / f"{good}-copy"
    shutil.copytree(case / "runs" / good, bad)
    (bad / "run.json").write_text("null\n")
    proc = tk(case, "runs", "--json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert [r["id"] for r in json.loads(proc.stdout)] == [good]
    (line,) = proc.stderr.strip().splitlines()
    assert f"{bad.name}/run.json is damaged" in line


def test_checkpoint_json_holding_a_list(world: Path, case: Path) -> None:
    run_id = _copy_run(world, case)
    (case / "runs" / run_id / "checkpoint.json").write_text("[]\n")
    proc = tk(case, "submit", "--run", run_id)
    one_line_error(proc, f"runs/{run_id}/checkpoint.json is damaged", "retrain the run")
    assert not (case / "submissions").exists()


def test_cache_entry_with_edited_labels_is_rebuilt(world: Path, case: Path) -> None:
    cache = _cache_of(case) / "competitions"
    (entry,) = (p for p in cache.iterdir() if not p.name.startswith("."))
    labels = np.load(entry / "y_train.npy")
    damaged = labels.copy()
    damaged[0] = 99  # ten classes: out of range
    np.save(entry / "y_train.npy", damaged)
    proc = tk(case, "data", "check", "D", "-q")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "is unusable" in line and "checksum" in line and "rebuilding" in line
    assert np.array_equal(np.load(entry / "y_train.npy"), labels)
    again = tk(case, "data", "check", "D", "-q")
    assert again.returncode == 0 and again.stderr == ""  # the rebuilt entry is trusted
