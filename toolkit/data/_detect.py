"""Which of the five layouts a path holds, and which file or folder that layout reads.

Detection looks only at names and CSV headers, never at images, so it is instant. Order:
a .npz file path; CIFAR batches (the path or a child); train.csv with pixel columns
(pixel-csv) or with a train/ folder of images (kaggle-images); train/<class>/ folders
(image-folder); a folder with exactly one .npz.
"""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.data import _cifar, _folder, _images, _kaggle, _npz, _pixel_csv
from toolkit.data._tables import preview, read_header
from toolkit.errors import ToolkitError

_LAYOUTS = (
    "kaggle-images (train.csv + train/<id>.png + test/ + sample_submission.csv), "
    "image-folder (train/<class>/*, test/*), "
    "cifar-python (cifar-10-batches-py/ or cifar-100-python/), "
    "pixel-csv (train.csv with pixel0.. columns + test.csv), "
    "npz (one .npz with x_train, y_train, x_test)"
)


def resolve(path: Path) -> tuple[str, Path]:
    """(format, source) where source is the folder or file that format reads."""
    if not path.exists():
        raise ToolkitError(
            f"competition path {path} does not exist; pass the competition folder (or .npz)."
        )
    if path.is_file():
        if path.suffix.lower() == ".npz":
            return _npz.NAME, path
        raise ToolkitError(f"{path} is a file; pass the competition folder (or a .npz archive).")
    cifar = _cifar.find(path)
    if cifar is not None:
        return _cifar.NAME, cifar
    train_csv = _pixel_csv.find_csv(path, "train")
    if train_csv is not None and _pixel_csv.is_pixel_header(read_header(train_csv)):
        return _pixel_csv.NAME, path
    has_csv = (path / "train.csv").is_file()
    train_dir = _kaggle.image_dir(path, _kaggle.TRAIN_DIRS)
    if has_csv and train_dir is not None and _has_images(train_dir):
        return _kaggle.NAME, path
    if (path / "train").is_dir() and _folder.class_dirs(path / "train"):
        return _folder.NAME, path
    if has_csv:
        raise ToolkitError(
            f"{path} has train.csv but no train/ folder of images (kaggle-images) and no pixel "
            "columns (pixel-csv); add the train/ images or the pixel columns."
        )
    if train_dir is not None and _has_images(train_dir):
        raise ToolkitError(
            f"{path}/train holds images but there is no train.csv with their labels; add "
            "train.csv (id,label) or sort the images into train/<class>/ folders."
        )
    found = _npz.archives(path)
    if len(found) == 1:
        return _npz.NAME, found[0]
    if found:
        raise ToolkitError(
            f"{path} holds {len(found)} .npz files ({preview(p.name for p in found)}); "
            "pass the one to load."
        )
    raise ToolkitError(
        f"{path} is not a recognised competition layout; expected one of: {_LAYOUTS}."
    )


def _has_images(folder: Path) -> bool:
    with os.scandir(folder) as it:
        return any(_images.is_image(e.name) for e in it)
