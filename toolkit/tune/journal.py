"""Journal files that survive a crash mid-append: damaged records are set aside, not fatal.

Optuna appends one JSON record per line to a study's journal, under a lock. A process killed
mid-append, or a full disk, leaves a last line without its newline; the next append then lands
on that torn line and makes it invalid JSON, and from then on every read of the study raises
``JSONDecodeError``: all its trials are lost to the tools. :func:`repair_journal` runs before a
journal is opened: under the writers' lock (so a record being written is never mistaken for a
torn one) it keeps every record that parses, salvages a whole record appended onto a torn one,
drops the rest, and keeps a copy of the damaged file beside it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

RECORD_START = b'{"op_code"'  # how every record Optuna writes begins


def journal_lock(path: Path) -> Any:
    """Optuna's lock file of the journal at ``path``, with Ctrl-C and SIGTERM held while it is
    held: a worker stopped just after creating it would otherwise leave it behind, and every
    other process would wait out Optuna's 30-s grace period before taking it (a launcher's
    SIGTERM to its workers did, once in CI)."""
    from optuna.storages.journal import JournalFileOpenLock

    from toolkit.errors import defer_interrupts, resume_interrupts

    class Lock(JournalFileOpenLock):
        held = False  # acquired by this object (Optuna's acquire also calls release)

        def acquire(self) -> bool:
            defer_interrupts()
            try:
                taken = super().acquire()
            except BaseException:
                resume_interrupts()
                raise
            self.held = True
            return taken

        def release(self) -> None:
            try:
                super().release()
            finally:
                if self.held:
                    self.held = False
                    resume_interrupts()  # raises an interrupt that arrived meanwhile

    return Lock(str(path))


def repair_journal(path: Path) -> Path | None:
    """Repair the journal at ``path`` if it is damaged; the damaged copy's path, else None."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    data = path.read_bytes()
    if data.endswith(b"\n") and _all_parse(data):  # the common case: no lock, no copy
        return None
    lock = journal_lock(path)
    lock.acquire()
    try:
        data = path.read_bytes()  # again, now that no writer is appending
        records, dropped = _good_records(data)
        if dropped == 0:
            return None
        backup = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        backup.write_bytes(data)
        tmp = path.with_name(f".{path.name}.repair.tmp")
        tmp.write_bytes(b"".join(r + b"\n" for r in records))
        os.replace(tmp, path)
    finally:
        lock.release()
    print(
        f"warning: study journal {path} had {dropped} damaged record(s) (a crash or a full "
        f"disk mid-write); they were set aside (copy: {backup.name}) and the study goes on.",
        file=sys.stderr,
    )
    return backup


def _all_parse(data: bytes) -> bool:
    return all(_parses(line) for line in data.splitlines())


def _good_records(data: bytes) -> tuple[list[bytes], int]:
    """(records that parse, in order; how many lines were damaged)."""
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline, else a torn record
    records: list[bytes] = []
    dropped = int(bool(tail.strip()))
    for line in [*lines, tail] if _parses(tail) else lines:  # a whole record less its newline
        if not line.strip():
            continue
        if _parses(line):
            records.append(line)
            continue
        dropped += 1
        salvaged = _salvage(line)
        if salvaged is not None:  # a whole record appended onto a torn one
            records.append(salvaged)
    return records, dropped


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return bool(line.strip())


def _salvage(line: bytes) -> bytes | None:
    """The last whole record inside a damaged line, if any."""
    start = line.rfind(RECORD_START)
    while start > 0:
        candidate = line[start:]
        try:
            json.loads(candidate)
            return candidate
        except ValueError:
            start = line.rfind(RECORD_START, 0, start)
    return None
