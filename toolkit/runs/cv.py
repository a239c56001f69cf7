"""Cross-validation groups: the run folder of a k-fold run and the fold runs inside it.

``tk train --folds K`` (:mod:`toolkit.train.kfold`) writes one run folder for the whole
cross-validation, with the K fold runs as ordinary run folders inside it::

    <runs root>/<cv id>/
        run.json          kind "cv", the config, the folds (id, fold, score), mean and std
        oof_probs.npy     out-of-fold class probabilities (N, num_classes) of every training
                          image: each row predicted by the one fold model that never trained on it
        oof.csv           the same with each image's id (first column, when the competition
                          names its training images: train.csv's id, or the path under train/
                          of a class folder), row, label and fold, for stacking
        val_probs.npy / val_labels.npy   the out-of-fold predictions again, under the names
                          the noise tools read (toolkit.runs.noise)
        test_probs.npy    the fold models' mean test probabilities
        <fold run id>/    one complete run per fold (checkpoint, metrics, plots)

So ``tk runs`` lists one row per cross-validation, and the group is self-contained: moving
its folder moves its models. Readers that need weights (``tk submit``, ``tk predict``,
retention of a study's checkpoints) ask :func:`member_paths` for the folders that hold them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.runs.store import CHECKPOINT, RunDir

KIND = "cv"  # run.json "kind" of a cross-validation group


def is_group(record: dict[str, Any]) -> bool:
    """Whether ``record`` (a run.json) is a cross-validation group rather than one model."""
    return record.get("kind") == KIND


def fold_runs(run: RunDir, record: dict[str, Any]) -> list[RunDir]:
    """The fold runs of the group ``run`` (record ``record``), in fold order."""
    entries = record.get("folds")
    if not isinstance(entries, list) or not entries:
        raise ToolkitError(
            f"cross-validation {run.id} lists no fold runs in its run.json; it did not finish "
            "its first fold. Train it again (tk train --folds K)."
        )
    out = []
    for entry in sorted(entries, key=lambda e: int(e.get("fold", 0))):
        path = run.path / str(entry.get("id"))
        if not (path / "run.json").is_file():
            raise ToolkitError(
                f"fold {entry.get('fold')} of cross-validation {run.id} is missing "
                f"({path}); the group folder was changed by hand. Train it again."
            )
        out.append(RunDir(path))
    return out


def member_paths(path: Path) -> list[Path]:
    """The run folders holding the weights of the run at ``path``: itself for one model, its
    fold runs for a cross-validation group."""
    run = RunDir(path)
    try:
        record = run.read()
    except ToolkitError:
        return [path]
    if not is_group(record):
        return [path]
    return [r.path for r in fold_runs(run, record)]


def weight_files(path: Path) -> list[Path]:
    """The checkpoint files of the run at ``path`` (a group's: one per fold)."""
    try:
        members = member_paths(path)
    except ToolkitError:
        return []
    return [p / CHECKPOINT for p in members]


def has_weights(path: Path) -> bool:
    """Whether every model of the run at ``path`` still has its checkpoint."""
    files = weight_files(path)
    return bool(files) and all(f.exists() for f in files)
