"""Where studies live: plain Optuna storages, plus a lock for claiming trials.

- Default: one Optuna journal file per study, ``<studies dir>/<name>.journal``
  (``$TOOLKIT_STUDIES`` or ``./studies``). Journal files take appends from several processes
  safely (no "database is locked"), and Optuna's own tools open them.
- Any SQLAlchemy URL (``postgresql://user@host/db``, ``sqlite:///file.db``): an Optuna
  ``RDBStorage`` with heartbeats, so a trial whose worker died is failed and retried.

A running trial's worker proves it is alive every :func:`heartbeat_s` seconds, on any host:
Optuna heartbeats on databases, a lease on journals (:mod:`toolkit.tune.lease`); a trial with
none for :func:`grace_s` seconds is failed and retried by the next worker that claims a trial.

Passwords in URLs are redacted wherever a URL is printed or saved (:func:`redact`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError

HEARTBEAT_S = 10  # a running trial's worker writes a heartbeat this often (every storage)
GRACE_S = 60  # ... and the trial is failed (then retried) when none came for this long
HEARTBEAT_ENV = "TOOLKIT_HEARTBEAT_S"  # override HEARTBEAT_S (whole seconds)
GRACE_ENV = "TOOLKIT_HEARTBEAT_GRACE_S"  # override GRACE_S (whole seconds, >= 2 heartbeats)


def heartbeat_s() -> int:
    """Seconds between a running trial's heartbeats: ``$TOOLKIT_HEARTBEAT_S`` or 10."""
    return _seconds(HEARTBEAT_ENV, HEARTBEAT_S)


def grace_s() -> int:
    """Seconds without a heartbeat after which a trial's worker counts as dead:
    ``$TOOLKIT_HEARTBEAT_GRACE_S`` or 60; at least two heartbeats."""
    grace, every = _seconds(GRACE_ENV, GRACE_S), heartbeat_s()
    if grace < 2 * every:
        raise ToolkitError(
            f"{GRACE_ENV}={grace} is shorter than two heartbeats ({HEARTBEAT_ENV}={every}): "
            f"a live worker's trial would be failed; set it to at least {2 * every}."
        )
    return grace


def _seconds(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ToolkitError(
            f"{name}={value!r} is not a whole number of seconds >= 1; fix or unset it."
        )
    return int(value)


def studies_dir() -> Path:
    """Folder of default study storages: ``$TOOLKIT_STUDIES`` or ``./studies``."""
    return Path(os.environ.get("TOOLKIT_STUDIES", "studies")).expanduser()


def default_url(study: str) -> str:
    """The default storage of ``study``: its journal file in :func:`studies_dir`."""
    return f"journal:{(studies_dir() / f'{study}.journal').resolve()}"


def redact(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``.

    The password is what SQLAlchemy reads as one (anything up to ``@``, ``/`` included, the
    user name may be empty); a libpq ``?password=`` parameter is hidden too.
    """
    url = re.sub(r"(://[^/:@]*):[^@]*@", r"\1:***@", url)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", url, flags=re.IGNORECASE)


def is_journal(url: str) -> bool:
    return url.startswith("journal:") or url.endswith(".journal")


def journal_path(url: str) -> Path:
    return Path(url.removeprefix("journal:")).expanduser()


def open_storage(url: str) -> Any:
    """An Optuna storage for ``url`` (journal file or SQLAlchemy URL)."""
    import optuna

    if is_journal(url):
        from optuna.storages.journal import JournalFileBackend

        from toolkit.tune.journal import journal_lock, repair_journal

        path = journal_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_journal(path)  # a record torn by a crash would make every later read fail
        backend = JournalFileBackend(str(path), lock_obj=journal_lock(path))
        return optuna.storages.JournalStorage(backend)
    if "://" not in url:
        raise ToolkitError(
            f"storage {redact(url)!r} is neither a journal file nor a SQLAlchemy URL; use e.g. "
            "postgresql://user@host:5432/db or sqlite:///studies/x.db."
        )
    import warnings

    from optuna.storages import RDBStorage

    every, grace = heartbeat_s(), grace_s()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # heartbeats are marked experimental since 2.9
            # No stale-trial callback: the worker loop fails and re-queues stale trials itself
            # (toolkit.tune.worker.recover_stale), the same way on every storage.
            return RDBStorage(
                url,
                heartbeat_interval=every,
                grace_period=grace,
                engine_kwargs={"pool_pre_ping": True},
            )
    except ImportError as err:
        raise ToolkitError(
            f"the driver for {redact(url)} is not installed ({err}); e.g. pip install "
            "psycopg2-binary for PostgreSQL."
        ) from None
    except Exception as err:  # connection refused, bad database name, ...
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ToolkitError(f"cannot open storage {redact(url)}: {first}") from None


@contextlib.contextmanager
def claim_lock(url: str, study: str) -> Iterator[None]:
    """Serialise trial claims of one study across processes (and, for PostgreSQL, machines).

    Journal and SQLite storages lock a file beside them; PostgreSQL takes an advisory lock.
    Other databases run without one (the trial count may then overshoot by a trial).
    """
    if is_journal(url) or url.startswith("sqlite:"):
        base = journal_path(url) if is_journal(url) else Path(url.split(":///", 1)[-1])
        lock_file = base.with_name(f".{base.name}.{study}.claim.lock")
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_file, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    if url.startswith(("postgresql", "postgres")):
        import sqlalchemy

        key = int.from_bytes(
            hashlib.sha1(f"toolkit:{study}".encode()).digest()[:8], "big", signed=True
        )
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        engine.dispose()
        return
    yield


def list_storage_urls() -> list[str]:
    """Every default journal storage under :func:`studies_dir`."""
    folder = studies_dir()
    if not folder.is_dir():
        return []
    return [f"journal:{p.resolve()}" for p in sorted(folder.glob("*.journal"))]
