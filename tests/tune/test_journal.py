"""A journal torn at any byte of its last record: earlier trials stay readable; it resumes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.tune.journal import repair_journal
from toolkit.tune.storage import open_storage


def _study(path: Path, trials: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="torn", storage=open_storage(f"journal:{path}"), load_if_exists=True
    )
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=trials)
    return [t.value for t in study.get_trials() if t.value is not None]


def _complete(path: Path) -> list[float]:
    import optuna

    study = optuna.load_study(study_name="torn", storage=open_storage(f"journal:{path}"))
    return [t.value for t in study.get_trials() if t.state.name == "COMPLETE"]


def test_a_sound_journal_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.journal"
    _study(path, 2)
    before = path.read_bytes()
    assert repair_journal(path) is None and path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]  # no copy made


def test_cut_at_every_byte_of_the_last_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = tmp_path / "whole.journal"
    values = _study(whole, 2)
    data = whole.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1  # the last record: trial 2's final state
    kept_before = _complete_after_cut(tmp_path, data, last_start)  # what a clean cut keeps
    assert kept_before == values[:1]
    for cut in range(last_start + 1, len(data)):
        path = tmp_path / f"cut{cut}" / "s.journal"
        path.parent.mkdir()
        path.write_bytes(data[:cut])
        whole_record = cut == len(data) - 1  # only the newline is missing: the record is kept
        kept = values if whole_record else values[:1]
        assert _complete(path) == kept, cut  # every earlier trial is still readable
        assert _study(path, 1)  # and the study goes on: a new trial is appended and read back
        assert len(_complete(path)) == len(kept) + 1, cut
        copies = list(path.parent.glob("s.journal.damaged-*"))
        assert len(copies) == 1 and copies[0].read_bytes() == data[:cut]  # a copy is kept
    assert "damaged record" in capsys.readouterr().err


def _complete_after_cut(tmp_path: Path, data: bytes, cut: int) -> list[float]:
    path = tmp_path / "clean" / "s.journal"
    path.parent.mkdir()
    path.write_bytes(data[:cut])
    return _complete(path)


def test_a_record_appended_onto_a_torn_one_is_salvaged(tmp_path: Path) -> None:
    """What older versions left behind: the next append landed on the torn line."""
    whole = tmp_path / "whole.journal"
    _study(whole, 1)
    lines = whole.read_bytes().splitlines(keepends=True)
    damaged = tmp_path / "d.journal"
    # The last record torn in half, then the same record appended whole onto it.
    damaged.write_bytes(b"".join(lines[:-1]) + lines[-1][:10] + lines[-1])
    assert repair_journal(damaged) is not None
    assert damaged.read_bytes() == whole.read_bytes()
    assert len(_complete(damaged)) == 1


@pytest.fixture
def sigterm_handler() -> Iterator[None]:
    """The toolkit's SIGTERM handler installed for one test (pytest keeps its own otherwise)."""
    import signal

    import toolkit.errors as errors

    old = signal.signal(signal.SIGTERM, errors._on_sigterm)
    yield
    signal.signal(signal.SIGTERM, old)
    errors._terminated = False  # the process goes on: later tests see a fresh one
    errors._pending = None


def test_sigterm_while_the_journal_lock_is_held_arrives_once_the_lock_file_is_gone(
    tmp_path: Path, sigterm_handler: None
) -> None:
    import os
    import signal

    from toolkit.errors import Terminated
    from toolkit.tune.journal import journal_lock

    path = tmp_path / "s.journal"
    lock = journal_lock(path)
    lock_file = Path(f"{path}.lock")
    lock.acquire()
    assert lock_file.exists()
    os.kill(os.getpid(), signal.SIGTERM)  # handled at once, held: the lock file is not left
    with pytest.raises(Terminated):
        lock.release()
    assert not lock_file.exists()
    lock.acquire()  # nothing pending now: a lock taken and released as usual
    lock.release()
    assert not lock_file.exists()


def test_optunas_forced_release_of_a_stale_lock_file_does_not_resume_interrupts_early(
    tmp_path: Path, sigterm_handler: None
) -> None:
    """Optuna's acquire removes a stale lock file with ``release()``; only the release of the
    lock this object took ends the hold."""
    import os
    import signal

    import toolkit.errors as errors
    from toolkit.errors import Terminated
    from toolkit.tune.journal import journal_lock

    path = tmp_path / "s.journal"
    lock = journal_lock(path)
    lock.grace_period = 1  # a stale lock file is forced after 1 s (Optuna's default: 30 s)
    Path(f"{path}.lock").touch()  # left by a process that died holding it
    lock.acquire()
    assert errors._deferring == 1  # still held after the forced release
    os.kill(os.getpid(), signal.SIGTERM)
    with pytest.raises(Terminated):
        lock.release()
    assert errors._deferring == 0 and not Path(f"{path}.lock").exists()
