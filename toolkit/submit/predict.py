"""Test-set probabilities of one run or the average of several, with optional TTA.

A run's checkpoint (linear probe or fine-tuned, whichever the run saved) is rebuilt with
:func:`toolkit.train.model.load_model`. Test-time augmentation averages the probabilities
of the original images with horizontally flipped ones (``predict_probs(tta=True)``) and with
copies shifted by a few pixels up, down, left and right (edge pixels repeated, no wrap-around).
Runs are loaded one at a time, so averaging k runs holds one model in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.data import Competition
    from toolkit.runs import RunDir

CHUNK = 2048  # test images shifted and predicted at a time (bounded memory on big test sets)


@dataclass(frozen=True)
class TTA:
    """Which test-time augmentations to average over."""

    flip: bool = True  # also predict horizontally flipped images (off for digits or text)
    shift: int = 1  # also predict copies shifted by this many pixels in 4 directions; 0 = none

    def offsets(self) -> list[tuple[int, int]]:
        """(dy, dx) of every view: the original first, then the shifts."""
        s = self.shift
        return [(0, 0)] + ([(-s, 0), (s, 0), (0, -s), (0, s)] if s > 0 else [])

    def to_dict(self) -> dict[str, Any]:
        return {"flip": self.flip, "shift": self.shift, "views": len(self.offsets())}


@dataclass(frozen=True)
class Member:
    """One run taking part in a submission: its folder, record and checkpoint description."""

    run: RunDir
    record: dict[str, Any]  # run.json
    meta: dict[str, Any]  # checkpoint.json

    @property
    def classes(self) -> list[Any]:
        return list(self.meta.get("classes") or [])


def read_members(run_ids: Sequence[str]) -> list[Member]:
    """Find each run and read its record and checkpoint description (no weights yet)."""
    from toolkit.runs import find_run
    from toolkit.runs.checkpoint import read_meta

    if not run_ids:
        raise ToolkitError("no runs to submit; pass --run ID or --study NAME.")
    members = []
    for run_id in run_ids:
        run = find_run(str(run_id))
        members.append(Member(run, run.read(), read_meta(run)))
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


def predict_members(
    members: Sequence[Member], x: np.ndarray, tta: TTA | None = None, device: str = "auto"
) -> np.ndarray:
    """Mean class probabilities (M, K) of all members on uint8 images ``x`` (M, C, H, W)."""
    from toolkit.train.device import resolve_device
    from toolkit.train.model import load_model

    dev = resolve_device(device)
    total: np.ndarray | None = None
    for m in members:
        model = load_model(str(m.run.path), device=dev)
        probs = predict_views(model, x, tta)  # (M, K)
        total = probs if total is None else total + probs
        del model
    assert total is not None  # read_members refuses an empty list
    return total / len(members)


def predict_views(model: Any, x: np.ndarray, tta: TTA | None) -> np.ndarray:
    """Probabilities (M, K) of one model, averaged over the TTA views."""
    from toolkit.data import release_pages

    if tta is None:
        return np.asarray(model.predict_probs(x), dtype=np.float64)
    offsets = tta.offsets()
    if len(offsets) == 1:
        return np.asarray(model.predict_probs(x, tta=tta.flip), dtype=np.float64)
    out: np.ndarray | None = None
    for start in range(0, len(x), CHUNK):
        part = np.asarray(x[start : start + CHUNK])  # (B, C, H, W) uint8, read from a memmap
        views = [
            np.asarray(model.predict_probs(shift_images(part, dy, dx), tta=tta.flip))
            for dy, dx in offsets
        ]
        mean = np.mean(views, axis=0, dtype=np.float64)  # (B, K)
        if out is None:  # one output array: a list of chunk results would fragment the heap
            out = np.empty((len(x), mean.shape[1]), dtype=np.float64)  # (M, K)
        out[start : start + len(mean)] = mean
        release_pages(part)  # done with these images: keep resident memory at one chunk
    return out if out is not None else np.zeros((0, 0), dtype=np.float64)


def shift_images(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Images (B, C, H, W) moved ``dy`` pixels down and ``dx`` right; edges are repeated."""
    if dy == 0 and dx == 0:
        return x
    h, w = x.shape[2], x.shape[3]
    if abs(dy) >= h or abs(dx) >= w:
        raise ToolkitError(f"a TTA shift of {max(abs(dy), abs(dx))} px is as large as the image.")
    p = max(abs(dy), abs(dx))
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="edge")
    return np.ascontiguousarray(padded[:, :, p - dy : p - dy + h, p - dx : p - dx + w])


def _few(items: Sequence[Any], limit: int = 4) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (", ..." if len(items) > limit else "")
