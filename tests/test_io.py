"""Atomic writes and the one line a failed write becomes: the path, the cause, the remedy."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from toolkit import io
from toolkit.errors import ToolkitError, WriteError


@pytest.mark.parametrize(
    ("code", "cause", "remedy"),
    [
        (errno.ENOSPC, "no space left on device", "free some space"),
        (errno.EFBIG, "file too large", "ulimit -f"),
        (errno.EROFS, "read-only file system", "write somewhere else"),
        (errno.EACCES, "permission denied", "permissions"),
        (errno.ENOTDIR, "a file is in the way", "move it"),
    ],
)
def test_each_cause_has_its_words_and_remedy(code: int, cause: str, remedy: str) -> None:
    err = io.write_error("/elsewhere/x.json", OSError(code, os.strerror(code)))
    assert str(err) == str(err).strip() and "\n" not in str(err)
    assert str(err).startswith("cannot write /elsewhere/x.json: ")
    assert cause in str(err) and remedy in str(err)
    assert isinstance(err, ToolkitError) and isinstance(err, OSError) and err.errno == code


def test_the_remedy_names_the_variable_that_moves_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLKIT_RUNS", str(tmp_path / "r"))
    monkeypatch.chdir(tmp_path)
    err = io.write_error(tmp_path / "r" / "a" / "run.json", OSError(errno.ENOSPC, "full"))
    assert str(err).startswith("cannot write r/a/run.json: ")  # relative to the working folder
    assert "point $TOOLKIT_RUNS at another folder" in str(err)


def test_a_library_error_quoting_an_errno_is_understood() -> None:
    err = io.write_error("x.bin", RuntimeError("I/O error: No space left (os error 28)"))
    assert "no space left on device" in str(err)


def test_an_unwritable_folder_is_a_write_error_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(WriteError, match="a file is in the way"):
        io.write_json(tmp_path / "blocker" / "a.json", {"a": 1})
    assert (tmp_path / "blocker").read_text() == "x"


def test_a_failed_write_removes_its_temporary_file(tmp_path: Path) -> None:
    with (
        pytest.raises(WriteError, match="no space left on device"),
        io.atomic_path(tmp_path / "a.bin") as tmp,
    ):
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_a_short_write_without_errno_is_told_by_the_file_size_limit(tmp_path: Path) -> None:
    """numpy reports a write cut by ``ulimit -f`` as "N requested and M written", no errno."""
    script = textwrap.dedent(
        f"""
        import resource, numpy as np
        from toolkit import io
        from toolkit.errors import WriteError
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        with open({str(tmp_path / "probe")!r}, "wb") as fh:  # numpy's own error, for the record
            try:
                np.save(fh, np.zeros(4096), allow_pickle=False)
            except OSError as err:
                assert err.errno is None, err
        try:
            with io.atomic_path({str(tmp_path / "a.npy")!r}) as tmp, open(tmp, "wb") as fh:
                np.save(fh, np.zeros(4096), allow_pickle=False)
        except WriteError as err:
            print(err)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "a.npy: file too large" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe"]


@pytest.fixture
def umask() -> Iterator[Callable[[int], int]]:
    """``umask(mask)`` sets the process umask for one test; the old one is back afterwards."""
    old = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(old)


def _via_atomic_path(path: Path, data: bytes) -> None:
    with io.atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


WRITERS: dict[str, Callable[[Path], None]] = {
    "write_text": lambda p: io.write_text(p, "x\n"),
    "write_json": lambda p: io.write_json(p, {"a": 1}),
    "atomic_write": lambda p: io.atomic_write(p, lambda fh: fh.write(b"x")),
    "atomic_path": lambda p: _via_atomic_path(p, b"x"),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_a_new_file_gets_the_mode_open_would_give_it(
    tmp_path: Path, umask: Callable[[int], int], writer: str, mask: int, mode: int
) -> None:
    """Not mkstemp's 0o600: run.json, submissions and reports are readable like any file."""
    umask(mask)
    with open(tmp_path / "plain", "w") as fh:  # what the user's own files get
        fh.write("x")
    WRITERS[writer](tmp_path / "out" / "a.json")
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "out" / "a.json").stat().st_mode) == mode
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.json"]  # no temporary left


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664])
def test_a_replaced_file_keeps_its_mode(
    tmp_path: Path, umask: Callable[[int], int], writer: str, mode: int
) -> None:
    umask(0o022)
    path = tmp_path / "a.json"
    path.write_text("old")
    path.chmod(mode)
    WRITERS[writer](path)
    assert path.read_text() != "old"
    assert stat.S_IMODE(path.stat().st_mode) == mode
