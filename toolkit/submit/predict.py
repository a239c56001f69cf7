"""Test-set probabilities of one run or the average of several, with test-time augmentation.

A run's checkpoint (linear probe or fine-tuned, whichever the run saved) is rebuilt with
:func:`toolkit.train.model.load_model`. By default each run predicts the way it was validated
(its ``tta`` setting: flips, if it trained with them); test-time augmentation
(:mod:`toolkit.train.tta`) never uses a view the run did not train with. Runs are loaded one at
a time, so averaging k runs holds one model in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.train.tta import TTA

if TYPE_CHECKING:
    from toolkit.data import Competition
    from toolkit.runs import RunDir


@dataclass(frozen=True)
class Member:
    """One run taking part in a submission: its folder, record and checkpoint description."""

    run: RunDir
    record: dict[str, Any]  # run.json
    meta: dict[str, Any]  # checkpoint.json
    group: str = ""  # the cross-validation (tk train --folds) this fold run belongs to

    @property
    def classes(self) -> list[Any]:
        return list(self.meta.get("classes") or [])


def read_members(run_ids: Sequence[str]) -> list[Member]:
    """Find each run and read its record and checkpoint description (no weights yet); a
    cross-validation (``tk train --folds K``) stands for its K fold runs."""
    from toolkit.runs import cv, find_run
    from toolkit.runs.checkpoint import read_meta

    if not run_ids:
        raise ToolkitError("no runs to submit; pass --run ID or --study NAME.")
    members = []
    for run_id in run_ids:
        run = find_run(str(run_id))
        record = run.read()
        if not cv.is_group(record):
            members.append(Member(run, record, read_meta(run)))
            continue
        if record.get("status") != "completed":
            raise ToolkitError(
                f"cross-validation {run.id} is {record.get('status')}; submit a completed one "
                "(its folds' average needs every fold)."
            )
        for fold in cv.fold_runs(run, record):
            members.append(Member(fold, fold.read(), read_meta(fold), group=run.id))
    ids = [m.run.id for m in members]
    if len(set(ids)) != len(ids):
        raise ToolkitError(f"the same run is listed twice ({', '.join(ids)}); list it once.")
    return members


def check_members(members: Sequence[Member], competition: Competition) -> list[str]:
    """Refuse runs whose classes differ from the competition's; return warnings.

    A different class list means a different competition (or a class subset): predictions
    cannot be mapped to the submission's labels. A different data fingerprint only means the
    files changed (copied, touched, re-downloaded), so it is a warning.
    """
    want = list(competition.classes)
    warnings = []
    for m in members:
        if m.classes != want:
            raise ToolkitError(
                f"run {m.run.id} predicts {len(m.classes)} classes ({_few(m.classes)}) but "
                f"competition {competition.name} has {len(want)} ({_few(want)}); submit it to "
                "the competition it was trained on (--competition PATH)."
            )
        recorded = m.record.get("data_fingerprint") or m.meta.get("data_fingerprint")
        if recorded != competition.fingerprint:
            warnings.append(
                f"run {m.run.id} was trained on data with fingerprint {str(recorded)[:12]} but "
                f"{competition.root} now has {competition.fingerprint[:12]}; the files changed "
                "since training, check that the test set is the one you mean."
            )
        if m.record.get("status") != "completed":
            warnings.append(
                f"run {m.run.id} is {m.record.get('status')!r}, not completed; its best "
                "checkpoint so far is used."
            )
    return warnings


@dataclass(frozen=True)
class TTARequest:
    """What the user asked of test-time augmentation; None fields: the run's own choice."""

    enabled: bool | None = None  # None: as the run validated (its tta setting)
    flip: bool | None = None  # None: if the run trained with flips
    shift: int | None = None  # None: 1 px if the run trained with random crops, else 0


def member_tta(member: Member, request: TTARequest | None = None) -> TTA | None:
    """The views ``member`` predicts with: what was asked, within what the run trained on."""
    from toolkit.train.tta import check_trained, trained_tta, validation_tta

    request = request or TTARequest()
    config = member.record.get("config") or {}
    if request.enabled is False:
        return None
    if request.enabled is None and request.flip is None and request.shift is None:
        return validation_tta(config)
    trained = trained_tta(config, shift=request.shift)
    tta = TTA(
        flip=trained.flip if request.flip is None else request.flip,
        shift=trained.shift if request.shift is None else request.shift,
    )
    check_trained(tta, config, member.run.id)
    return tta if tta.active else None


def predict_members(
    members: Sequence[Member],
    x: np.ndarray,
    ttas: Sequence[TTA | None] | None = None,
    device: str = "auto",
) -> np.ndarray:
    """Mean class probabilities (M, K) of all members on uint8 images ``x`` (M, C, H, W);
    member i predicts with ``ttas[i]`` (see :func:`member_tta`; default: none)."""
    from toolkit.train.device import resolve_device
    from toolkit.train.model import load_model

    dev = resolve_device(device)
    views = list(ttas) if ttas is not None else [None] * len(members)
    total: np.ndarray | None = None
    for m, tta in zip(members, views, strict=True):
        model = load_model(str(m.run.path), device=dev)
        probs = np.asarray(model.predict_probs(x, tta=tta), dtype=np.float64)
        total = probs if total is None else total + probs
        del model
    assert total is not None  # read_members refuses an empty list
    return total / len(members)


def check_weights(token: str) -> None:
    """Refuse, in one line, a run whose weights a study removed (it keeps only its best
    trials'), before any warning or prediction; other missing files are read's to report."""
    from toolkit.runs import find_run
    from toolkit.runs.store import CHECKPOINT, CHECKPOINT_META

    run = find_run(token)
    try:
        record = run.read()
    except ToolkitError:
        return  # reading the run fails again, with its own message, when it is submitted
    from toolkit.runs import cv

    if cv.is_group(record) and record.get("folds"):  # a cross-validation: each fold's
        for member in cv.member_paths(run.path):
            check_weights(str(member))
        return
    status, why = str(record.get("status")), str(record.get("error") or "")
    removed = run.file(CHECKPOINT_META).is_file() or status == "pruned"
    if run.file(CHECKPOINT).is_file() or not removed:
        return
    ended = why if status == "pruned" and why.startswith("pruned") else status
    raise ToolkitError(
        f"run {run.id} was {ended} and has no usable checkpoint: its weights were not kept (a "
        "study keeps those of its best keep_checkpoints trials only); submit a run that has "
        "them ('tk study show NAME' names the best trial's run) or train it again."
    )


def _few(items: Sequence[Any], limit: int = 4) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (", ..." if len(items) > limit else "")
