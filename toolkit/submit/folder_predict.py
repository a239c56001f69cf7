"""Predict a folder of new images with a run (or a study's best run), as ``tk submit`` would.

1. the run: a run id, unique prefix or folder; else a study's name, whose best completed trial
   is taken (:func:`~toolkit.submit.make.study_runs`, as ``tk submit --study``)
2. the images: every image file directly in the folder (natural order), decoded by the data
   stage's decoder (:mod:`toolkit.data._decode`) with the run's test-set policy: its side, its
   resize mode (``image_policy`` in ``run.json``) and its channels (gray or RGB), so an image
   of the competition's own test set becomes the same pixels it did there
3. the probabilities: the run's model with the test-time augmentation it validated with
   (:func:`~toolkit.submit.predict.member_tta`, :func:`~toolkit.submit.predict.predict_members`)
4. the CSV: ``file,label,p_<class>...`` (the file's name in the folder, the most probable class,
   one probability per class in the run's class order), written atomically
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.submit.predict import Member, TTARequest, member_tta, predict_members, read_members


@dataclass(frozen=True)
class FolderPrediction:
    """A run's predictions for the images of one folder."""

    run_id: str
    files: list[str]  # file names in the folder, in the order of the rows
    classes: list[Any]  # class labels in their original form (column i of probs)
    probs: np.ndarray  # (N, K) class probabilities, rows summing to 1
    tta: dict[str, Any] | None  # the views averaged (None: the image alone)

    @property
    def labels(self) -> list[Any]:
        """The most probable class of each image."""
        return [self.classes[i] for i in np.argmax(self.probs, axis=1)]


def resolve_source(source: str, storage: str | None = None) -> str:
    """The run folder ``source`` names: a run (id, prefix or folder), else a study's best run."""
    from toolkit.runs import find_run

    try:
        return str(find_run(source).path)
    except ToolkitError as run_error:
        if "ambiguous" in str(run_error):
            raise
        from toolkit.submit.make import study_runs

        try:
            return study_runs(source, storage, 1)[0]
        except ToolkitError as study_error:
            if "unknown study" not in str(study_error):
                raise
        raise ToolkitError(
            f"'{source}' is neither a run nor a study; 'tk runs' lists the runs and "
            "'tk study list' the studies (pass --storage URL for a study stored elsewhere)."
        ) from None


def predict_folder(
    source: str,
    folder: str | Path,
    *,
    storage: str | None = None,
    tta: TTARequest | None = None,
    device: str = "auto",
) -> FolderPrediction:
    """Probabilities of ``source``'s run (see :func:`resolve_source`) for each image directly
    in ``folder``, decoded and predicted as that run's test set was."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ToolkitError(f"{folder} is not a folder; pass a folder of images to predict.")
    from toolkit.data._images import list_images

    paths = list_images(folder)
    if not paths:
        raise ToolkitError(f"{folder} holds no image files (PNG, JPEG, ...); add some.")
    members = read_members([resolve_source(source, storage)])  # a k-fold run: its K folds
    member = members[0]
    x = decode_as_run(paths, folder, member)  # the folds share the image size
    views = [member_tta(m, tta) for m in members]
    probs = predict_members(members, x, views, device)  # (N, K): the folds' mean
    return FolderPrediction(
        run_id=member.group or member.run.id,
        files=[p.name for p in paths],
        classes=member.classes,
        probs=probs,
        tta=views[0].to_dict() if views[0] else None,
    )


def decode_as_run(paths: Sequence[Path], folder: Path, member: Member) -> np.ndarray:
    """uint8 images (N, C, S, S) of ``paths`` at the run's side, resize mode and channels;
    an unreadable file is one line naming it, as in loading a competition."""
    from toolkit.data._decode import Plan, decode, quiet_bombs
    from toolkit.data._images import _shown, _unreadable

    meta = member.meta
    policy = member.record.get("image_policy") or {}
    size, channels = int(meta["image_size"]), int(meta["in_channels"])
    # resample: a file already size x size is kept as it is, as the competition's were
    plan = Plan(channels, size, str(policy.get("resize", "crop")), True)
    out = np.empty((len(paths), channels, size, size), dtype=np.uint8)  # (N, C, S, S)
    with quiet_bombs():
        for i, path in enumerate(paths):
            try:
                pixels = decode(str(path), plan)  # (S, S, C)
            except Exception as err:  # Pillow raises many types on bad files
                raise ToolkitError(_unreadable(err, str(path), _shown(path, folder))) from None
            out[i] = np.moveaxis(pixels, 2, 0)
    return out


def write_predictions(prediction: FolderPrediction, path: str | Path) -> Path:
    """Write ``file,label,p_<class>...`` (one row per image) atomically; return the path."""
    import pandas as pd

    from toolkit import io

    table = pd.DataFrame({"file": prediction.files, "label": prediction.labels})
    for k, label in enumerate(prediction.classes):
        table[f"p_{label}"] = prediction.probs[:, k]
    text = table.to_csv(index=False, lineterminator="\n")
    io.write_text(path, text)
    return Path(path)


def default_csv(folder: str | Path, run_id: str) -> Path:
    """``predictions/<folder name>-<short run id>.csv`` in the working folder."""
    from toolkit.runs.store import short_run_ids

    name = Path(folder).resolve().name or "images"
    return Path("predictions") / f"{name}-{short_run_ids([run_id])[run_id]}.csv"
