"""Run folders: where a run's config, metrics, checkpoint, predictions and plots live.

Layout of ``<runs root>/<run id>/``::

    run.json              config, competition, status (running|completed|interrupted|failed),
                          metrics summary, timings
    metrics.csv           one row per evaluation
    checkpoint.safetensors  best encoder + head weights (safetensors: never a pickle)
    checkpoint.json       what is needed to rebuild the model: plugins, params, classes, stats
    val_probs.npy / test_probs.npy   class probabilities (N, num_classes)
    curves.png, confusion.png, tsne.png  plots (tsne.png: embedding runs, setting tsne)

Every file is written atomically.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit import io
from toolkit.errors import ToolkitError

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
CHECKPOINT = "checkpoint.safetensors"
CHECKPOINT_META = "checkpoint.json"
METRICS = "metrics.csv"


def runs_root() -> Path:
    """Where runs are kept: ``$TOOLKIT_RUNS`` or ``./runs``."""
    return Path(os.environ.get("TOOLKIT_RUNS", "runs")).expanduser()


def new_run_id(label: str) -> str:
    """A sortable, unique id: ``YYYYmmdd-HHMMSS-<label>-<4 hex>``."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in label)[:40]
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class RunDir:
    """A run folder and its files."""

    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    def read(self) -> dict[str, Any]:
        """The run record (run.json); a damaged one is a one-line error naming the file."""
        record: dict[str, Any] = io.read_checked_json(
            self.file(RUN_FILE),
            record_problem,
            unreadable=f"run {self.id} has no readable {RUN_FILE}",
            advice="check the run folder and its permissions",
            remedy=f"delete the run folder {io.shown(self.path)} (or restore the file from a "
            "backup).",
        )
        return record

    def write(self, record: dict[str, Any]) -> None:
        io.write_json(self.file(RUN_FILE), record)

    def update(self, **fields: Any) -> dict[str, Any]:
        record = self.read()
        record.update(fields)
        self.write(record)
        return record

    def read_metrics(self) -> list[dict[str, str]]:
        """metrics.csv's rows as written (values are text); [] when there is none yet."""
        path = self.file(METRICS)
        if not path.is_file():
            return []
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Rewrite metrics.csv from all rows so far (small; atomic)."""
        if not rows:
            return
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        lines = [",".join(columns)]
        for row in rows:
            lines.append(",".join(_fmt(row.get(c)) for c in columns))
        io.write_text(self.file(METRICS), "\n".join(lines) + "\n")


# Fields of a run record that, when present, must have these types (what readers rely on).
RECORD_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "status": str,
    "config": dict,
    "metrics": (dict, type(None)),
    "competition_path": str,
}


def record_problem(record: Any) -> str | None:
    """What is wrong with a parsed run.json (None when it can be used)."""
    if not isinstance(record, dict):
        return f"it holds {json.dumps(record)[:40]}, not a run record"
    for key, kind in RECORD_TYPES.items():
        if key in record and not isinstance(record[key], kind):
            return f"its '{key}' is {json.dumps(record[key])[:40]}"
    return None


def create_run(label: str, record: dict[str, Any], root: Path | None = None) -> RunDir:
    """Make a new run folder under ``root`` and write its first record."""
    root = root or runs_root()
    for _ in range(5):
        path = root / new_run_id(label)
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        except OSError as err:  # read-only, full, a file where the folder should be
            raise io.write_error(path, err) from None
        run = RunDir(path)
        try:
            run.write({"id": run.id, **record})
        except OSError:  # no record, no run: leave no empty folder behind
            path.rmdir()
            raise
        return run
    raise ToolkitError(f"could not create a run folder under {root}; check permissions.")


def find_run(run_id: str, root: Path | None = None) -> RunDir:
    """The run named ``run_id`` (a unique prefix is enough), or a folder path to one."""
    direct = Path(run_id).expanduser()
    if (direct / RUN_FILE).is_file():
        return RunDir(direct)
    root = root or runs_root()
    return RunDir(root / resolve_run_id(run_id, root))


SHORT_ID_MIN = 4  # the random tail of a run id (``...-1a2b``) is its short id


def _tail(run_id: str) -> str:
    """The random hex tail of an id made by :func:`new_run_id`, else ``""``."""
    tail = run_id.rpartition("-")[2]
    hexdigits = "0123456789abcdef"
    ok = "-" in run_id and len(tail) >= SHORT_ID_MIN and all(c in hexdigits for c in tail)
    return tail if ok else ""


def _run_names(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / RUN_FILE).is_file())


def short_run_ids(run_ids: list[str], root: Path | None = None) -> dict[str, str]:
    """The short form of each id, like git's abbreviated hashes: its random tail (``1a2b``)
    when no other run under ``root`` (or in ``run_ids``) shares it, else the full id.
    :func:`resolve_run_id` (so every command that takes a run id) accepts it."""
    names = set(_run_names(root or runs_root())) | set(run_ids)
    counts: dict[str, int] = {}
    for name in names:
        counts[_tail(name)] = counts.get(_tail(name), 0) + 1
    return {i: _tail(i) if _tail(i) and counts[_tail(i)] == 1 else i for i in run_ids}


def resolve_run_id(token: str, root: Path | None = None) -> str:
    """The full id of the run under ``root`` that ``token`` names: the id itself, a unique
    prefix of it (``20261201-0658``), or its short id (the random tail, ``1a2b``)."""
    root = root or runs_root()
    names = _run_names(root)
    if token in names:
        return token
    matches = [n for n in names if n.startswith(token) or (token and _tail(n) == token)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        shown = ", ".join(matches[:5]) + more
        raise ToolkitError(f"run id '{token}' is ambiguous ({shown}); give more of it.")
    raise ToolkitError(f"unknown run '{token}' under {root}; 'tk runs' lists the runs.")


def list_runs(root: Path | None = None) -> list[dict[str, Any]]:
    """All run records under ``root``, newest first; a damaged or unreadable run.json is
    skipped with one warning line naming it."""
    root = root or runs_root()
    if not root.is_dir():
        return []
    records = []
    for path in sorted(root.iterdir(), reverse=True):
        if (path / RUN_FILE).is_file():
            try:
                records.append({**RunDir(path).read(), "path": str(path)})
            except ToolkitError as err:
                log.warning("skipped: %s", err)
    return records


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return f'"{text}"' if "," in text else text
