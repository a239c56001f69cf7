"""Is a run's validation score, or its lead over another run, more than noise?

Read from the arrays a run saves (``val_probs.npy``, ``val_labels.npy``), so nothing is
retrained:

- :func:`val_interval`: the bootstrap interval of the run's validation score (its metric),
  cached in the run folder's ``val_interval.json``, keyed by the sha256 of the two arrays, the
  metric, the resamples and the level (a stale or damaged cache is recomputed; a folder that
  cannot be written is only not cached)
- :func:`versus_best`: a paired bootstrap of the best run against each other run validated on
  the same images (same data fingerprint, ``val_fraction`` or fold, seed and class subset,
  and the same labels in the saved arrays); a run of another split is not comparable. The
  out-of-fold predictions of cross-validations (``tk train --folds K``) cover every training
  image, so cross-validations of the same data compare with each other whatever their K

A run trained with ``val_fraction = 0`` has no validation images: no interval, no comparison.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import io
from toolkit.errors import ToolkitError
from toolkit.metrics import (
    REAL_DIFFERENCE,
    bootstrap_interval,
    get_metric,
    paired_bootstrap,
    within_noise,
)
from toolkit.runs.store import RunDir

INTERVAL_FILE = "val_interval.json"
RESAMPLES = 1000
LEVEL = 0.95
VERDICTS = ("best", "within noise", "worse", "better", "not comparable")


@dataclass(frozen=True)
class Validation:
    """A run's saved validation predictions and what they are scored by."""

    probs: np.ndarray  # (N, K)
    labels: np.ndarray  # (N,)
    metric: str
    sha256: str  # of the two arrays' files


def run_metric(record: dict[str, Any]) -> str:
    """The metric a run is scored by (its metrics', else its config's, else accuracy)."""
    metrics = record.get("metrics") or {}
    return str(metrics.get("metric") or (record.get("config") or {}).get("metric") or "accuracy")


def load_validation(run: RunDir, record: dict[str, Any]) -> Validation | None:
    """The run's validation predictions; None when it has none (``val_fraction = 0``, an
    unfinished or older run, unreadable files)."""
    files = [run.file("val_probs.npy"), run.file("val_labels.npy")]
    try:
        data = [f.read_bytes() for f in files]  # read once: hashed and parsed
        probs, labels = (np.load(BytesIO(d), allow_pickle=False) for d in data)
    except (OSError, ValueError):
        return None
    if probs.ndim != 2 or labels.shape != (len(probs),) or len(labels) == 0:
        return None
    digest = hashlib.sha256(data[0] + b"\0" + data[1]).hexdigest()
    return Validation(probs, labels, run_metric(record), digest)


def val_interval(
    run: RunDir, record: dict[str, Any], *, n: int = RESAMPLES, level: float = LEVEL
) -> dict[str, Any] | None:
    """``{"low", "high", "level", "resamples"}`` of the run's validation score, or None
    without validation images (or a metric undefined on most resamples)."""
    val = load_validation(run, record)
    if val is None:
        return None
    key = {"sha256": val.sha256, "metric": val.metric, "resamples": n, "level": level}
    path = run.file(INTERVAL_FILE)
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        cached = json.loads(path.read_text(encoding="utf-8"))
        if {k: cached.get(k) for k in key} == key:
            return _shown(cached)
    try:
        metric = get_metric(val.metric)
        low, high = bootstrap_interval(metric, val.probs, val.labels, n=n, level=level)
    except (ToolkitError, ValueError):  # an unknown metric or odd arrays: no interval
        return None
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    entry = {**key, "low": round(low, 6), "high": round(high, 6)}
    with contextlib.suppress(OSError):  # a read-only run folder: computed again next time
        io.write_json(path, entry)
    return _shown(entry)


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry[k] for k in ("low", "high", "level", "resamples")}


def split_key(record: dict[str, Any]) -> tuple[Any, ...] | None:
    """What fixes a run's validation images (and how they are scored); None without any."""
    cfg = record.get("config") or {}
    folds = int(cfg.get("folds") or 0)
    if not record.get("data_fingerprint") or not (cfg.get("val_fraction") or folds >= 2):
        return None
    classes = cfg.get("classes")
    if record.get("kind") == "cv":  # out-of-fold predictions: every training image, once
        split: tuple[Any, ...] = ("every image",)
    elif folds >= 2:  # one fold of a cross-validation
        split = ("fold", folds, int(cfg.get("fold") or 0), cfg.get("seed"))
    else:
        split = ("held out", float(cfg["val_fraction"]), cfg.get("seed"))
    return (
        record["data_fingerprint"],
        *split,
        tuple(classes) if isinstance(classes, list) else classes,
        run_metric(record),
    )


def versus_best(
    best: tuple[RunDir, dict[str, Any]],
    others: Sequence[tuple[RunDir, dict[str, Any]]],
    *,
    n: int = RESAMPLES,
) -> dict[str, dict[str, Any]]:
    """By run id: how each of ``others`` stands against ``best`` on the validation images.

    ``{"best_run", "probability", "verdict"}``: ``probability`` is the share of paired
    resamples in which the best scores better (null when not comparable); ``verdict`` is
    ``within noise`` below :data:`~toolkit.metrics.REAL_DIFFERENCE`, ``worse`` at or above it,
    ``better`` when the run beats the best as often, ``not comparable`` for a run validated on
    other images. The best itself gets ``best``. Runs without validation images are left out.
    """
    best_run, best_record = best
    best_val = load_validation(best_run, best_record)
    if best_val is None:
        return {}
    best_key = split_key(best_record)
    out: dict[str, dict[str, Any]] = {
        best_run.id: {"best_run": best_run.id, "probability": None, "verdict": "best"}
    }
    for run, record in others:
        if run.id == best_run.id:
            continue
        val = load_validation(run, record)
        if val is None:
            continue
        entry: dict[str, Any] = {"best_run": best_run.id, "probability": None}
        comparable = (
            split_key(record) == best_key
            and val.probs.shape == best_val.probs.shape
            and np.array_equal(val.labels, best_val.labels)
        )
        probability = float("nan")
        if comparable:
            probability = _paired_cached(run, val, best_val, n)
        if not np.isfinite(probability):
            out[run.id] = {**entry, "verdict": "not comparable"}
            continue
        verdict = "within noise" if within_noise(probability) else "worse"
        if probability <= 1 - REAL_DIFFERENCE:
            verdict = "better"
        out[run.id] = {**entry, "probability": round(probability, 4), "verdict": verdict}
    return out


def _paired_cached(run: RunDir, val: Validation, best_val: Validation, n: int) -> float:
    """:func:`paired_bootstrap` of the best against ``run``, kept in the run folder's
    ``val_interval.json`` (keyed by both runs' predictions), so listing runs again is cheap."""
    key = f"{best_val.sha256}:{val.sha256}:{val.metric}:{n}"
    path = run.file(INTERVAL_FILE)
    entry: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError, TypeError):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        entry = loaded if isinstance(loaded, dict) else {}
    versus = entry.get("versus") if isinstance(entry.get("versus"), dict) else {}
    if isinstance(versus.get(key), float | int):
        return float(versus[key])
    try:
        metric = get_metric(best_val.metric)
        probability = paired_bootstrap(metric, best_val.probs, val.probs, val.labels, n=n)
    except (ToolkitError, ValueError):
        return float("nan")
    if np.isfinite(probability):
        with contextlib.suppress(OSError):  # a read-only run folder: computed again next time
            io.write_json(path, {**entry, "versus": {key: probability}})
    return probability


def best_per_split(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """:func:`versus_best` within each group of runs validated on the same images (records as
    :func:`~toolkit.runs.store.list_runs` gives them, with ``path``); the best of each group
    by its recorded validation score. A group of one run gets nothing."""
    groups: dict[tuple[Any, ...], list[tuple[RunDir, dict[str, Any]]]] = {}
    for r in records:
        key, score = split_key(r), (r.get("metrics") or {}).get("val_score")
        if key is not None and isinstance(score, int | float) and r.get("path"):
            groups.setdefault(key, []).append((RunDir(Path(str(r["path"]))), r))
    out: dict[str, dict[str, Any]] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        try:
            metric = get_metric(run_metric(members[0][1]))
        except ToolkitError:  # a metric this version does not know: not compared
            continue
        best = max(members, key=lambda m: metric.oriented(float(m[1]["metrics"]["val_score"])))
        out.update(versus_best(best, members))
    return out


def runner_up(
    chosen: RunDir, candidates: Sequence[dict[str, Any]], *, n: int = RESAMPLES
) -> dict[str, Any] | None:
    """How ``chosen``'s lead over the runner-up holds up: the best other run of
    ``candidates`` (records with ``path``, as :func:`~toolkit.runs.store.list_runs` gives)
    validated on the same images. ``{"run_id", "probability", "within_noise"}``, where
    ``probability`` is the share of paired resamples in which ``chosen`` scores better; None
    without a comparable runner-up, or when ``chosen`` does not lead it."""
    record = chosen.read()
    key, score = split_key(record), (record.get("metrics") or {}).get("val_score")
    if key is None or not isinstance(score, int | float):
        return None
    metric = get_metric(run_metric(record))
    rivals = [
        r
        for r in candidates
        if r.get("path")
        and Path(str(r["path"])).resolve() != chosen.path.resolve()
        and split_key(r) == key
        and isinstance((r.get("metrics") or {}).get("val_score"), int | float)
    ]
    if not rivals:
        return None
    rival = max(rivals, key=lambda r: metric.oriented(float(r["metrics"]["val_score"])))
    if metric.better(float(rival["metrics"]["val_score"]), float(score)):
        return None
    mine, theirs = (
        load_validation(chosen, record),
        load_validation(RunDir(Path(rival["path"])), rival),
    )
    if mine is None or theirs is None or not np.array_equal(mine.labels, theirs.labels):
        return None
    probability = paired_bootstrap(metric, mine.probs, theirs.probs, mine.labels, n=n)
    if not np.isfinite(probability):
        return None
    return {
        "run_id": str(rival.get("id") or Path(str(rival["path"])).name),
        "probability": round(probability, 4),
        "within_noise": within_noise(probability),
    }
