"""k-fold cross-validation: K runs on stratified, seeded folds, and their out-of-fold record.

``train_folds(config, competition)`` with ``config.folds = K``:

1. splits the chosen classes' training images into K folds
   (:func:`toolkit.data.split_folds`: scikit-learn's ``StratifiedKFold``, seeded)
2. creates the group's run folder (:mod:`toolkit.runs.cv`) and trains fold k = 0..K-1 as an
   ordinary run inside it (:func:`toolkit.train.train` with ``fold = k``): it validates on
   fold k and trains on the other K-1. Under a time budget the folds share it: each gets what
   a K-th (less if earlier folds ran over), so K folds end with the budget, not K times it.
   With ``autosize`` the first fold picks the width and the others keep it.
3. after each fold, ``on_fold(k, score)`` is told its validation score (a study reports it to
   Optuna's ``WilcoxonPruner``); returning True stops the cross-validation as pruned
4. gathers every fold's validation probabilities into the out-of-fold predictions: each
   training image predicted by the one model that never trained on it (``oof_probs.npy``,
   ``oof.csv``); the run's score is the metric's mean over folds (and its standard deviation),
   beside the metric of the out-of-fold predictions as a whole
5. averages the K models' test probabilities (``test_probs.npy``); ``tk submit --run CV_ID``
   submits that average (:func:`toolkit.runs.cv.member_paths`)
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.runs import cv, store
from toolkit.train.config import TrainConfig, validate

if TYPE_CHECKING:
    from toolkit.data import Competition
    from toolkit.train.trainer import RunResult

OnFold = Callable[[int, float], bool]  # (fold, validation score) -> True: stop (pruned)


def train_folds(
    config: TrainConfig,
    competition: Competition,
    *,
    runs_root: Path | None = None,
    quiet: bool = False,
    on_fold: OnFold | None = None,
    on_run: Callable[[str, str], None] | None = None,
    extra: dict[str, Any] | None = None,
    started: float | None = None,
) -> RunResult:
    """Train ``config.folds`` fold runs and write their cross-validation group; see the
    module's docstring. ``on_run(id, path)`` is told the group's folder once it exists;
    ``started`` (``time.perf_counter()``) is when the budget began (None: now)."""
    from toolkit.data import class_subset, split_folds
    from toolkit.train.task import matching_competition, resolve_task
    from toolkit.train.trainer import Pruned, RunResult, train

    validate(config)
    k_folds = config.folds
    if k_folds < 2:
        raise ToolkitError(f"k-fold needs folds >= 2, got {config.folds}.")
    t0 = time.perf_counter() if started is None else started
    comp = matching_competition(config, competition)
    task = resolve_task(config, comp)
    keep, y, classes = class_subset(comp, config.classes)
    assignment = split_folds(y, k_folds, config.seed, names=classes)  # refuses tiny classes

    group = store.create_run(
        f"cv{k_folds}-{config.encoder.replace(':', '-').replace('/', '-')}-{config.loss}",
        {
            "kind": cv.KIND,
            "status": "running",
            "competition": comp.name,
            "competition_path": str(comp.root),
            "format": comp.format,
            "data_fingerprint": comp.fingerprint,
            "config": config.to_dict(),
            "image_policy": comp.image_policy,
            **task.record(list(classes)),
            "split_sizes": {"train": len(y), "folds": k_folds},
            "folds": [],
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **(extra or {}),
        },
        runs_root,
    )
    if on_run is not None:
        on_run(group.id, str(group.path))
    oof = None
    fold_config = config
    folds: list[dict[str, Any]] = []
    try:
        for k in range(k_folds):
            fold_config = dataclasses.replace(
                fold_config, fold=k, budget=_fold_budget(config.budget, t0, k, k_folds)
            )
            if not quiet:
                print(f"fold {k + 1}/{k_folds}", file=sys.stderr)
            result = train(
                fold_config,
                comp,
                runs_root=group.path,
                quiet=quiet,
                extra={**(extra or {}), "cv": {"id": group.id, "fold": k, "folds": k_folds}},
            )
            fold_run = store.RunDir(Path(str(result.path)))
            if k == 0:
                fold_config = _sized_like(fold_config, fold_run.read())
            probs = np.load(fold_run.file("val_probs.npy"), allow_pickle=False)
            if oof is None:
                oof = np.full((len(y), probs.shape[1]), np.nan, dtype=np.float32)
            oof[assignment == k] = probs  # the fold's validation rows, in index order
            score = float(result.metrics["val_score"])
            folds.append({"fold": k, "id": result.run_id, "val_score": round(score, 6)})
            group.update(folds=folds)
            if not quiet:
                print(f"fold {k + 1}/{k_folds}: {task.metric.name} {score:.4f}", file=sys.stderr)
            if on_fold is not None and on_fold(k, score) and k < k_folds - 1:
                raise Pruned(f"pruned after fold {k + 1} of {k_folds} ({score:.4f})")
    except BaseException as err:
        from toolkit.train.trainer import _ending

        status, reason = _ending(err)
        group.update(status=status, error=reason, duration_s=round(time.perf_counter() - t0, 2))
        raise
    assert oof is not None
    metrics = _summary(task.metric, folds, oof, y)
    metrics |= _test_metrics(group, comp, list(classes), task.metric)
    _write_oof(group, oof, y, assignment, keep, list(classes), train_ids=comp.train_ids)
    group.update(
        status="completed",
        error=None,
        metrics=metrics,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
        duration_s=round(time.perf_counter() - t0, 2),
    )
    return RunResult(group.id, group.path, "completed", metrics)


def _fold_budget(budget: float, t0: float, fold: int, folds: int) -> float:
    """Fold ``fold``'s seconds: an equal share of ``budget``, less when earlier folds ran
    over theirs (what is left over the folds still to train), so the folds are alike and
    the whole ends with the budget."""
    if budget <= 0:
        return 0.0
    left = budget - (time.perf_counter() - t0)
    if left <= 0:
        raise ToolkitError(
            f"the budget of {budget:g} s ran out before fold {fold + 1} of {folds}; give "
            "more time or fewer folds."
        )
    return min(budget / folds, left / (folds - fold))


def _sized_like(config: TrainConfig, record: dict[str, Any]) -> TrainConfig:
    """The later folds train the width the first fold's autosize chose, without probing."""
    if not config.autosize:
        return config
    chosen = (record.get("config") or {}).get("encoder_params") or {}
    return dataclasses.replace(config, autosize=False, encoder_params=dict(chosen))


def _summary(
    metric: Any, folds: list[dict[str, Any]], oof: np.ndarray, y: np.ndarray
) -> dict[str, Any]:
    """The group's metrics: mean and std of the fold scores, and the out-of-fold scores."""
    from toolkit.train.evaluate import metric_value

    scores = np.array([f["val_score"] for f in folds], dtype=np.float64)
    out: dict[str, Any] = {
        "metric": metric.name,
        "val_score": round(float(scores.mean()), 6),
        "val_score_std": round(float(scores.std(ddof=1)), 6),
        "fold_scores": [round(float(s), 6) for s in scores],
        "val_acc": round(float((oof.argmax(1) == y).mean()), 6),
    }
    try:
        oof_score = metric_value(metric, oof, y)
    except ToolkitError:  # e.g. an AUC undefined on these labels
        oof_score = math.nan
    if math.isfinite(oof_score):
        out["oof_score"] = round(oof_score, 6)
    return out


def _test_metrics(
    group: store.RunDir, comp: Competition, classes: list[Any], metric: Any
) -> dict[str, Any]:
    """Average the fold models' test probabilities (saved); score them given an answer key."""
    from toolkit.runs.artifacts import save_array
    from toolkit.train.final import test_accuracy, test_score

    record = group.read()
    probs = [
        np.load(r.file("test_probs.npy"), allow_pickle=False) for r in cv.fold_runs(group, record)
    ]
    mean = np.mean(probs, axis=0).astype(np.float32)
    save_array(group, "test_probs.npy", mean)
    out = {"test_acc": test_accuracy(comp, classes, mean)}
    out["test_score"] = test_score(comp, classes, mean, metric)
    return {k: round(v, 6) for k, v in out.items() if v is not None}


def _write_oof(
    group: store.RunDir,
    oof: np.ndarray,
    y: np.ndarray,
    assignment: np.ndarray,
    keep: np.ndarray | None,
    classes: list[Any],
    *,
    train_ids: tuple[Any, ...] = (),
) -> None:
    """oof_probs.npy, oof.csv (id, row, label, fold, one column per class) and the noise
    tools' val_probs.npy / val_labels.npy.

    ``keep``: the training rows of a class subset (None: every row); ``train_ids``: the
    competition's ids of all training rows, () when it names none (oof.csv then has no id
    column and its rows are told apart by ``row`` alone)."""
    import pandas as pd

    from toolkit import io
    from toolkit.runs.artifacts import save_array

    save_array(group, "oof_probs.npy", oof)
    save_array(group, "val_probs.npy", oof)
    save_array(group, "val_labels.npy", y.astype(np.int64))
    rows = np.arange(len(y)) if keep is None else np.asarray(keep)
    ids = {"id": [train_ids[int(r)] for r in rows]} if train_ids else {}
    table = pd.DataFrame(
        {**ids, "row": rows, "label": [classes[int(t)] for t in y], "fold": assignment}
    )
    probs = pd.DataFrame(oof, columns=[str(c) for c in classes])
    text = pd.concat([table, probs], axis=1).to_csv(index=False, float_format="%.6g")
    io.write_text(group.file("oof.csv"), text)
