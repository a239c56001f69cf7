"""Where studies live: plain Optuna storages, plus a lock for claiming trials.

- Default: one Optuna journal file per study, ``<studies dir>/<name>.journal``
  (``$TOOLKIT_STUDIES`` or ``./studies``). Journal files take appends from several processes
  safely (no "database is locked"), and Optuna's own tools open them.
- Any SQLAlchemy URL (``postgresql://user@host/db``, ``sqlite:///file.db``): an Optuna
  ``RDBStorage`` with heartbeats, so a trial whose worker died is failed and retried.

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

HEARTBEAT_S = 5  # a running trial's worker writes a heartbeat this often (RDB storages)
GRACE_S = 20  # ... and the trial is failed (then retried) when none came for this long


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
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        from toolkit.tune.journal import repair_journal

        path = journal_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_journal(path)  # a record torn by a crash would make every later read fail
        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        return optuna.storages.JournalStorage(backend)
    if "://" not in url:
        raise ToolkitError(
            f"storage {redact(url)!r} is neither a journal file nor a SQLAlchemy URL; use e.g. "
            "postgresql://user@host:5432/db or sqlite:///studies/x.db."
        )
    import warnings

    from optuna.storages import RDBStorage

    try:  # Optuna >= 4.9 renamed the retry callback
        from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry

        callback_arg = "heartbeat_stale_trial_callback"
    except ImportError:
        from optuna.storages import RetryFailedTrialCallback as Retry

        callback_arg = "failed_trial_callback"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # heartbeats are marked experimental since 2.9
            return RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_S,
                grace_period=GRACE_S,
                engine_kwargs={"pool_pre_ping": True},
                **{callback_arg: Retry(max_retry=3)},
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
