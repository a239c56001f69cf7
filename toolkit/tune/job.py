"""What a worker process is asked to do, handed over as a JSON file rather than CLI flags.

``tk tune --workers K`` writes one :class:`WorkerJob` per worker (the whole checked study spec,
with that worker's sampler seed) and starts :mod:`toolkit.tune.worker_main` on it. The file may
hold a storage URL with a password, so it is written readable by its owner only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.tune.spec import StudySpec


@dataclass(frozen=True)
class WorkerJob:
    """One worker's study, competition, storage and plugin paths."""

    spec: StudySpec  # checked by the launcher; the worker does not re-read the study file
    competition: str  # competition folder
    storage: str  # Optuna storage URL
    plugins: tuple[str, ...] = ()  # --plugins paths to load first
    quiet: bool = True  # no progress output

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict(),
            "competition": self.competition,
            "storage": self.storage,
            "plugins": list(self.plugins),
            "quiet": self.quiet,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkerJob:
        return cls(
            spec=StudySpec.from_dict(data["spec"]),
            competition=str(data["competition"]),
            storage=str(data["storage"]),
            plugins=tuple(str(p) for p in data.get("plugins", ())),
            quiet=bool(data.get("quiet", True)),
        )


def write_job(job: WorkerJob, path: Path) -> Path:
    """Write ``job`` to ``path`` (mode 0600); returns ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(job.to_dict(), fh, indent=2, default=str)
    return path


def read_job(path: str | Path) -> WorkerJob:
    """The job written by :func:`write_job`; an unreadable file is a user error."""
    try:
        return WorkerJob.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ToolkitError(
            f"cannot read worker job {path}: {err}; workers are started by 'tk tune --workers'."
        ) from None
