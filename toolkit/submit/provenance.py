"""The provenance JSON beside each submission: what made it, from which code and data.

It records the study/trial or run ids, each run's full config, validation score and checkpoint
hash, the data fingerprint, the toolkit's git commit and dirty flag, package versions, the CSV's
hash, the local test score when an answer key exists, the TTA/top-k settings, the creation time
and the Kaggle CLI command to upload the file (printed, never run).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from toolkit import io
from toolkit.errors import ToolkitError

FORMAT = "toolkit-submission/1"
PACKAGES = ("toolkit-ic", "torch", "numpy", "pandas", "timm", "optuna")  # distribution names


def git_state(folder: Path | None = None) -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the git checkout holding the toolkit; None outside one."""
    if folder is None:
        import toolkit

        folder = Path(toolkit.__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return done.stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        dirty = bool(git("status", "--porcelain").strip())
    except (OSError, subprocess.SubprocessError):  # no git, not a checkout, no commit yet
        return None
    return {"commit": commit, "dirty": dirty}


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None when it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def kaggle_command(slug: str, csv_path: Path, message: str) -> str:
    """The shell command that uploads ``csv_path`` with the Kaggle CLI (quoted for a shell)."""
    return shlex.join(
        ["kaggle", "competitions", "submit", "-c", slug, "-f", str(csv_path), "-m", message]
    )


def mask_url(url: str | None) -> str | None:
    """A storage URL with any password replaced by ``***`` (provenance files get shared)."""
    if not url:
        return url
    from toolkit.tune.storage import redact

    return redact(url)


def run_entry(run_path: Path, record: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """What the provenance keeps of one run."""
    metrics = record.get("metrics") or {}
    return {
        "run_id": record.get("id") or run_path.name,
        "path": str(run_path),
        "study": record.get("study"),
        "trial": record.get("trial", record.get("trial_number")),
        "status": record.get("status"),
        "refit_of": record.get("refit_of"),  # trained on train + validation for this run
        "cv": record.get("cv"),  # {id, fold, folds}: a fold of a cross-validation
        "pseudo_labels": record.get("pseudo_labels"),  # the test predictions it trained on
        "soup_of": record.get("soup_of"),  # the trials whose weights it averages (tk soup)
        "config": record.get("config") or {},
        "val_acc": metrics.get("val_acc"),
        "test_acc": metrics.get("test_acc"),
        "metric": metrics.get("metric", "accuracy"),
        "val_score": metrics.get("val_score", metrics.get("val_acc")),
        "checkpoint_sha256": meta.get("sha256") or record.get("checkpoint_sha256"),
        "data_fingerprint": record.get("data_fingerprint"),
        "model": {k: meta.get(k) for k in ("encoder", "head", "head_loss", "num_classes")},
    }


def build(
    *,
    runs: list[dict[str, Any]],
    study: str | None,
    storage: str | None,
    competition: Any,
    cross_validations: list[str] | None = None,
    slug: str,
    csv_path: Path,
    csv_sha256: str,
    rows: int,
    validation_score: float | None,
    local_test_score: float | None,
    task: dict[str, Any],
    calibration: dict[str, Any] | None,
    tta: dict[str, Any] | list[dict[str, Any] | None] | None,
    warnings: list[str],
) -> dict[str, Any]:
    """The whole provenance record of a new submission.

    ``validation_score`` is the metric of what is submitted (the runs' mean probabilities,
    with the TTA and calibration used) on the first run's validation split, or, for the folds
    of a cross-validation (``cross_validations``: their group ids), on their out-of-fold
    predictions.
    """
    metric = task["metric"]
    source = f"study {study}" if study else f"run {runs[0]['run_id']}"
    if cross_validations and not study:
        source = f"cross-validation {', '.join(cross_validations)}"
    if len(runs) > 1:
        source += f" (mean of {len(runs)} runs)"
    shown = "" if validation_score is None else f", val {metric['name']} {validation_score:.4f}"
    message = f"toolkit: {source}{shown}"
    return {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "competition": competition.name,
        "competition_path": str(competition.root),
        "data_fingerprint": competition.fingerprint,
        "study": study,
        "storage": mask_url(storage),
        "runs": runs,
        "cross_validations": cross_validations or [],  # tk train --folds groups submitted
        "top_k": len(runs),
        "tta": tta,
        "metric": metric["name"],
        "metric_direction": metric["direction"],
        "submission": task["submission"],
        "validation_score": validation_score,  # the metric of what is submitted, on validation
        "local_test_score": local_test_score,  # the same on the answer key, when there is one
        "local_test_metric": metric["name"] if local_test_score is not None else None,
        "calibration": calibration,
        "csv": {"file": csv_path.name, "sha256": csv_sha256, "rows": rows},
        "git": git_state(),
        "versions": package_versions(),
        "kaggle_command": kaggle_command(slug, csv_path, message),
        "warnings": warnings,
    }


def read(path: Path) -> dict[str, Any]:
    """A provenance JSON written by :func:`toolkit.submit.make_submission`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ToolkitError(f"cannot read provenance file {path} ({err}).") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ToolkitError(f"{path} is not a {FORMAT} provenance file.")
    return data


def update(path: Path, **fields: Any) -> dict[str, Any]:
    """Rewrite a provenance JSON atomically with ``fields`` changed."""
    data = read(path)
    data.update(fields)
    io.write_json(path, data)
    return data
