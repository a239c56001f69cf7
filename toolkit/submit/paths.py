"""Where submissions live: ``<root>/<competition>/<timestamp>-<name>.csv`` (+ ``.json``).

Every user-supplied string that becomes part of a path goes through :func:`safe_name`, so a name
such as ``../../etc/x`` or ``/etc/x`` can never leave the submissions folder.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from toolkit.errors import ToolkitError

SUBMISSIONS_ENV = "TOOLKIT_SUBMISSIONS"  # overrides the default root ./submissions
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 80  # characters kept of a user's name (file names stay well under 255 bytes)


def submissions_root() -> Path:
    """Where submissions are kept: ``$TOOLKIT_SUBMISSIONS`` or ``./submissions``."""
    return Path(os.environ.get(SUBMISSIONS_ENV, "submissions")).expanduser()


def safe_name(text: str, *, what: str = "--name") -> str:
    """``text`` reduced to ``[A-Za-z0-9._-]``, with no leading/trailing dots or dashes.

    Runs of other characters (``/``, spaces) and of 2+ dots become one ``-``; leading dots go, so
    neither ``..`` nor hidden files can appear. Nothing usable left is a user error.
    """
    cleaned = re.sub(r"\.{2,}", "-", _UNSAFE.sub("-", text))  # no ".." anywhere
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip(".-")[:MAX_NAME].strip(".-")
    if not cleaned:
        raise ToolkitError(
            f"{what} {text!r} has no usable characters; use letters, digits, '.', '_' or '-'."
        )
    return cleaned


def submission_paths(
    competition: str, name: str, root: Path | None = None, *, now: float | None = None
) -> tuple[Path, Path]:
    """(CSV path, provenance JSON path) of a new submission; both inside ``root``."""
    root = root if root is not None else submissions_root()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    folder = root / safe_name(competition, what="competition name")
    csv_path = folder / f"{stamp}-{safe_name(name)}.csv"
    if not csv_path.resolve().is_relative_to(root.resolve()):  # belt and braces
        raise ToolkitError(f"refusing to write {csv_path}: it is outside {root}.")
    return csv_path, provenance_path(csv_path)


def provenance_path(csv_path: str | Path) -> Path:
    """The provenance JSON beside a submission CSV (same stem)."""
    return Path(csv_path).with_suffix(".json")
