"""``make_submission``: runs -> test predictions -> validated CSV + provenance JSON.

1. read the runs' records and checkpoint descriptions; pick the competition (the first run's
   ``competition_path`` unless one is given, at the run's image size); resolve the
   submission's shape and metric; refuse other class lists, warn on a changed fingerprint
2. choose the file names and refuse existing ones, before any prediction
3. predict the validation split and the test set (mean over runs, optional TTA); calibrate
   probability submissions with a temperature fitted on the validation split
4. write the CSV in the competition's shape (validated first, atomic) and the provenance
   JSON beside it, with the metric on validation (and its 95% bootstrap interval) and, given
   an answer key, on the test set
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.submit import paths, provenance
from toolkit.submit.calibrate import apply_temperature
from toolkit.submit.calibrate import calibrate as calibrate_probs
from toolkit.submit.leaderboard import short_run_id
from toolkit.submit.predict import (
    Member,
    TTARequest,
    check_members,
    member_tta,
    predict_members,
    read_members,
)
from toolkit.submit.validate import expected_format
from toolkit.submit.write import ensure_new, submission_rows, write_submission

if TYPE_CHECKING:
    from toolkit.data import Competition
    from toolkit.metrics import Metric
    from toolkit.train.config import TrainConfig

PROBABILITY_KINDS = ("probability", "class-probabilities")  # calibrated before writing
MIN_CALIBRATION_IMAGES = 50  # smaller validation splits are not calibrated (noise, not bias)


@dataclass(frozen=True)
class SubmissionResult:
    """The files a submission made and what its provenance JSON says."""

    csv_path: Path
    json_path: Path
    provenance: dict[str, Any]


def make_submission(
    runs: str | Sequence[str],
    competition: Competition | str | Path | None = None,
    *,
    tta: TTARequest | None = None,
    name: str | None = None,
    root: Path | None = None,
    study: str | None = None,
    storage: str | None = None,
    slug: str | None = None,
    device: str = "auto",
    settings: Mapping[str, Any] | None = None,
    calibrate: bool = True,
) -> SubmissionResult:
    """Predict the test set with ``runs`` (ids, prefixes or folders; several are averaged).

    ``competition`` defaults to the first run's ``competition_path``, loaded with the image
    size the run trained on. The submission's shape and metric are the run's (from the
    competition's sample unless its config overrode them); ``settings`` may override them
    again (``submission.kind``, ``submission.k``, ``submission.positive_class``, ``metric``).
    Each run predicts with the test-time augmentation it validated with unless ``tta`` asks
    otherwise (never with a view it did not train on); the validation score is that of the
    submitted prediction (the runs' mean, with their TTA and the calibration).
    Probability submissions are calibrated with a temperature fitted on the validation split
    (``calibrate=False`` turns that off). Files go to
    ``<root>/<competition>/<timestamp>-<name>.csv`` (``root`` defaults to
    :func:`~toolkit.submit.paths.submissions_root`) with a provenance JSON beside it; an existing
    file is never overwritten. ``study``/``storage`` are recorded when the runs come from one.
    """
    from toolkit.data import select_classes
    from toolkit.train.task import resolve_task

    run_ids = [runs] if isinstance(runs, str) else list(runs)
    members = read_members(run_ids)
    config = _config(members[0].record, settings)
    comp = _competition(competition, members[0])
    task = resolve_task(config, comp)
    warnings = check_members(members, comp)
    for text in warnings:
        print(f"warning: {text}", file=sys.stderr)
    expected = expected_format(comp, task.submission)
    # Each run's views, resolved once (a view a run never trained on is refused here, up front).
    ttas = [member_tta(m, tta) for m in members]
    tta_dicts = [t.to_dict() if t else None for t in ttas]
    id_rows = _id_rows(comp, expected.id_texts)  # (M,) row of x_test for each id to write

    groups = list(dict.fromkeys(m.group for m in members if m.group))
    first = groups[0] if groups else members[0].run.id
    default = f"study-{study}" if study else short_run_id(first)
    if groups and len(groups) == len(run_ids):  # cross-validations: named by their folds
        default += f"-cv{len(members)}" if len(groups) == 1 else f"-mean{len(members)}"
    elif len(members) > 1:
        default += f"-top{len(members)}" if study else f"-mean{len(members)}"
    csv_path, json_path = paths.submission_paths(comp.name, name or default, root)
    ensure_new(csv_path, json_path)

    # Validation: the split the (first) run held out, predicted exactly as the test set is;
    # the folds of a cross-validation each predict their own fold (out-of-fold predictions).
    x_all, y_all, kept = select_classes(comp, config.classes)
    oof = _out_of_fold(members, x_all, y_all, ttas, device)
    if oof is not None:
        val_probs, y_val = oof
    else:
        _, va_idx = config.split(y_all, kept)
        val_probs = predict_members(members, x_all[va_idx], ttas, device) if len(va_idx) else None
        y_val = y_all[va_idx]
    probs = predict_members(members, comp.x_test, ttas, device)  # (M, K)
    calibration: dict[str, Any] | None = None
    if calibrate and task.submission.kind in PROBABILITY_KINDS:
        if val_probs is None or len(y_val) < MIN_CALIBRATION_IMAGES:
            calibration = {
                "skipped": f"the validation split has {len(y_val)} images; a temperature "
                f"fitted on fewer than {MIN_CALIBRATION_IMAGES} would fit their noise"
            }
        else:
            probs, calibration = calibrate_probs(val_probs, y_val, probs)
            val_probs = apply_temperature(val_probs, calibration["temperature"])
    validation = _score(task.metric, y_val, val_probs)
    interval = _interval(task.metric, y_val, val_probs) if validation is not None else None
    rows = submission_rows(task.submission, probs[id_rows], list(comp.classes))
    digest = write_submission(csv_path, expected.id_texts, rows, expected)

    local = None if comp.y_test is None else _score(task.metric, np.asarray(comp.y_test), probs)
    record = provenance.build(
        runs=[
            {**provenance.run_entry(m.run.path, m.record, m.meta), "tta": t}
            for m, t in zip(members, tta_dicts, strict=True)
        ],
        study=study,
        storage=storage,
        cross_validations=groups,
        competition=comp,
        slug=slug or comp.name,
        csv_path=csv_path,
        csv_sha256=digest,
        rows=len(rows),
        validation_score=validation,
        local_test_score=local,
        task=task.record(list(comp.classes)),
        calibration=calibration,
        # one record when every run used the same views, else one per run
        tta=tta_dicts[0] if all(t == tta_dicts[0] for t in tta_dicts) else tta_dicts,
        warnings=warnings,
    )
    record["validation_interval"] = interval
    from toolkit import io

    try:
        io.write_json(json_path, record)
    except OSError:  # the disk filled after the CSV: no submission without its provenance
        csv_path.unlink(missing_ok=True)
        raise
    return SubmissionResult(csv_path, json_path, record)


def _out_of_fold(
    members: Sequence[Member],
    x: np.ndarray,
    y: np.ndarray,
    ttas: Sequence[Any],
    device: str,
) -> tuple[np.ndarray, np.ndarray] | None:
    """(probabilities, labels) of every training image predicted by the fold model that did
    not train on it, when ``members`` are exactly the K folds of one split (same K and seed,
    each fold once); None otherwise (the first run's validation split is used)."""
    from toolkit.data import split_folds

    configs = [m.record.get("config") or {} for m in members]
    k = int(configs[0].get("folds") or 0)
    seed = configs[0].get("seed", 0)
    folds = sorted(int(c.get("fold") or 0) for c in configs)
    same = all(int(c.get("folds") or 0) == k and c.get("seed", 0) == seed for c in configs)
    if k < 2 or not same or folds != list(range(k)):
        return None
    assignment = split_folds(y, k, int(seed))
    probs: np.ndarray | None = None
    for m, tta, c in zip(members, ttas, configs, strict=True):
        rows = np.flatnonzero(assignment == int(c.get("fold") or 0))
        p = predict_members([m], x[rows], [tta], device)
        if probs is None:
            probs = np.zeros((len(y), p.shape[1]), dtype=np.float64)
        probs[rows] = p
    assert probs is not None
    return probs, y


def study_runs(study: str, storage: str | None = None, k: int = 1) -> list[str]:
    """Run folders of the ``k`` best completed trials of an Optuna study, best first."""
    if k < 1:
        raise ToolkitError(f"--top-k must be at least 1, got {k}.")
    try:
        from toolkit.tune import top_runs
    except ImportError as err:
        raise ToolkitError(f"studies are not available in this install ({err}).") from None
    found = list(top_runs(study, storage, k))
    if not found:
        raise ToolkitError(
            f"study {study!r} has no completed trials with a run folder; let it run longer."
        )
    return [str(p) for p in found]


def _config(record: dict[str, Any], settings: Mapping[str, Any] | None) -> TrainConfig:
    """The run's training config, with the submission settings a user passed at submit."""
    from toolkit.train.config import TrainConfig, apply_overrides

    known = {f.name for f in dataclasses.fields(TrainConfig)}
    saved = {k: v for k, v in (record.get("config") or {}).items() if k in known}
    config = TrainConfig.from_dict(saved)
    if not settings:
        return config
    allowed = ("metric", "submission.")
    bad = [k for k in settings if not k.startswith(allowed)]
    if bad:
        raise ToolkitError(
            f"tk submit takes only the metric and submission.* settings, not {bad[0]!r}; "
            "training settings belong to the run (tk train --set ...)."
        )
    return apply_overrides(config, settings)


def _competition(given: Competition | str | Path | None, member: Member) -> Competition:
    """The competition to predict, with images of the size the run was trained on."""
    from toolkit.data import Competition, load_competition

    record = member.record
    policy = record.get("image_policy") or {}
    size, resize = int(policy.get("requested", 0)), str(policy.get("resize", "crop"))
    trained = int(member.meta.get("image_size", 0))
    if isinstance(given, Competition):
        if given.image_size == trained:
            return given
        given = given.root
    if given is None:
        given = record.get("competition_path")
        if not given:
            raise ToolkitError(
                f"run {record.get('id')} does not record its competition folder; pass "
                "--competition PATH."
            )
        if not Path(given).exists():
            raise ToolkitError(
                f"the run's competition folder {given} no longer exists; pass --competition PATH."
            )
    comp = load_competition(given, image_size=size, resize=resize)
    if trained and comp.image_size != trained:  # another folder whose images differ in size
        comp = load_competition(given, image_size=trained, resize=resize)
    return comp


def _score(metric: Metric, y: np.ndarray, probs: np.ndarray | None) -> float | None:
    """``metric`` of ``probs`` against ``y``, rounded; None when it cannot be computed."""
    if probs is None or len(y) == 0:
        return None
    try:
        value = float(metric(np.asarray(y, dtype=np.int64), np.asarray(probs, dtype=np.float64)))
    except ToolkitError:  # e.g. ROC AUC on a split that holds one class
        return None
    return round(value, 6) if np.isfinite(value) else None


def _interval(metric: Metric, y: np.ndarray, probs: np.ndarray | None) -> dict[str, Any] | None:
    """The 95% bootstrap interval of the submitted prediction's validation score
    (:func:`toolkit.metrics.bootstrap_interval`); None when the metric has none there."""
    from toolkit.metrics import bootstrap_interval

    if probs is None:
        return None
    level, n = 0.95, 1000
    low, high = bootstrap_interval(metric, probs, np.asarray(y, dtype=np.int64), n=n, level=level)
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    return {"low": round(low, 6), "high": round(high, 6), "level": level, "resamples": n}


def _id_rows(comp: Competition, id_texts: Sequence[str]) -> list[int]:
    """Row of ``comp.x_test`` for each id the submission writes (sample order)."""
    row_of = {str(t): i for i, t in enumerate(comp.test_ids)}
    missing = [t for t in id_texts if t not in row_of]
    if missing or len(id_texts) != len(row_of):
        raise ToolkitError(
            f"the ids of {comp.root} do not match its test images (e.g. {missing[:1]}); "
            "reload it with 'tk data check --refresh'."
        )
    return [row_of[t] for t in id_texts]
