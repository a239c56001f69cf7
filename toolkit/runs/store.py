"""Run folders: where a run's config, metrics, checkpoint, predictions and plots live.

Layout of ``<runs root>/<run id>/``::

    run.json              config, competition, status (running|completed|interrupted|failed),
                          metrics summary, timings
    metrics.csv           one row per evaluation
    checkpoint.safetensors  best encoder + head weights (safetensors: never a pickle)
    checkpoint.json       what is needed to rebuild the model: plugins, params, classes, stats
    val_probs.npy / test_probs.npy   class probabilities (N, num_classes)
    curves.png, tsne.png  plots

Every file is written atomically.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit import io
from toolkit.errors import ToolkitError

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
        """The run record (run.json)."""
        try:
            return json.loads(self.file(RUN_FILE).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ToolkitError(f"run {self.id} has no readable {RUN_FILE} ({err}).") from None

    def write(self, record: dict[str, Any]) -> None:
        io.write_json(self.file(RUN_FILE), record)

    def update(self, **fields: Any) -> dict[str, Any]:
        record = self.read()
        record.update(fields)
        self.write(record)
        return record

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


def create_run(label: str, record: dict[str, Any], root: Path | None = None) -> RunDir:
    """Make a new run folder under ``root`` and write its first record."""
    root = root or runs_root()
    for _ in range(5):
        path = root / new_run_id(label)
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        run = RunDir(path)
        run.write({"id": run.id, **record})
        return run
    raise ToolkitError(f"could not create a run folder under {root}; check permissions.")


def find_run(run_id: str, root: Path | None = None) -> RunDir:
    """The run named ``run_id`` (a unique prefix is enough), or a folder path to one."""
    direct = Path(run_id).expanduser()
    if (direct / RUN_FILE).is_file():
        return RunDir(direct)
    root = root or runs_root()
    if (root / run_id / RUN_FILE).is_file():
        return RunDir(root / run_id)
    matches = (
        sorted(p for p in root.iterdir() if p.name.startswith(run_id) and (p / RUN_FILE).is_file())
        if root.is_dir()
        else []
    )
    if len(matches) == 1:
        return RunDir(matches[0])
    if len(matches) > 1:
        names = ", ".join(m.name for m in matches[:5])
        raise ToolkitError(f"run id '{run_id}' is ambiguous ({names}); give more of it.")
    raise ToolkitError(f"unknown run '{run_id}' under {root}; 'tk runs' lists the runs.")


def list_runs(root: Path | None = None) -> list[dict[str, Any]]:
    """All run records under ``root``, newest first (unreadable folders are skipped)."""
    root = root or runs_root()
    if not root.is_dir():
        return []
    records = []
    for path in sorted(root.iterdir(), reverse=True):
        if (path / RUN_FILE).is_file():
            try:
                records.append({**RunDir(path).read(), "path": str(path)})
            except ToolkitError:
                continue
    return records


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return f'"{text}"' if "," in text else text
