"""``image-folder``: train/<class>/* and test/* (ImageFolder style).

Class names are the folder names (strings); a training image's id is its path under train/
(``cat/001.png``), in the order the images are stacked (class folders by name, each one's files
in natural order); test ids are the file stems, in natural order. An optional
sample_submission.csv fixes the submission columns and the id order; an optional
test_labels.csv, or test/<class>/* folders, give the answer key.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from toolkit.data import _images
from toolkit.data._competition import Parsed
from toolkit.data._resize import SizeRequest
from toolkit.data._tables import Submission, preview, read_answer_key, read_submission
from toolkit.errors import ToolkitError

NAME = "image-folder"


def class_dirs(train: Path) -> list[Path]:
    """Visible subfolders of ``train`` that hold at least one image, sorted by name."""
    with os.scandir(train) as it:
        dirs = [Path(e.path) for e in it if e.is_dir() and not e.name.startswith(".")]
    return sorted((d for d in dirs if _has_image(d)), key=lambda d: d.name)


def inputs(root: Path) -> list[Path]:
    """Files and folders whose content determines the loaded competition."""
    names = ("train", "test", "sample_submission.csv", "test_labels.csv")
    return [root / n for n in names]


def load(root: Path, *, workers: int | None, request: SizeRequest, scratch: Path | None) -> Parsed:
    """List class folders and test files, check the submission ids, decode all images at one
    size (into ``scratch``, when given)."""
    train = root / "train"
    loose = _images.list_images(train)
    if loose:
        raise ToolkitError(
            f"train/{loose[0].name} is not inside a class folder; move the training images "
            "into train/<class>/ folders."
        )
    dirs = class_dirs(train)
    if not dirs:
        raise ToolkitError(f"the train set in {root} is empty; add images to train/<class>/.")
    classes = tuple(d.name for d in dirs)
    train_files: list[Path] = []
    labels: list[int] = []
    for index, folder in enumerate(dirs):
        files = _images.list_images(folder)
        train_files += files
        labels += [index] * len(files)

    test_files, id_texts, y_test = _test_set(root, classes)
    sub: Submission | None = None
    if (root / "sample_submission.csv").is_file():
        sub = read_submission(root / "sample_submission.csv")
        order = _reorder(id_texts, sub)
        test_files = [test_files[i] for i in order]
        id_texts = list(sub.id_texts)
        y_test = y_test[order] if y_test is not None else None
    if y_test is None and (root / "test_labels.csv").is_file():
        y_test = read_answer_key(root / "test_labels.csv", id_texts, classes, sub)

    x_train, x_test, policy = _images.decode_train_test(
        train_files, test_files, root=root, workers=workers, request=request, scratch=scratch
    )
    return Parsed(
        x_train=x_train,
        y_train=np.asarray(labels, dtype=np.int64),
        classes=classes,
        x_test=x_test,
        test_ids=sub.ids if sub else tuple(id_texts),
        id_column=sub.id_column if sub else "id",
        label_column=sub.label_column if sub else "label",
        y_test=y_test,
        image_policy=policy,
        train_ids=tuple(p.relative_to(train).as_posix() for p in train_files),
    )


def _test_set(
    root: Path, classes: tuple[str, ...]
) -> tuple[list[Path], list[str], np.ndarray | None]:
    """Test files, their ids, and labels when the test images sit in class folders."""
    test = root / "test"
    if not test.is_dir():
        raise ToolkitError(f"missing test/ folder in {root}; put the test images there.")
    files = _images.list_images(test)
    labelled = class_dirs(test)
    if files and labelled:
        raise ToolkitError(
            f"test/ in {root} mixes loose images and class folders; use one or the other."
        )
    if not files and not labelled:
        raise ToolkitError(f"test/ in {root} holds no images; put the test images there.")
    if not labelled:
        ids = [p.stem for p in files]
        dupes = sorted(i for i, n in Counter(map(_images.name_key, ids)).items() if n > 1)
        if dupes:
            raise ToolkitError(
                f"test/ has several images per id ({preview(dupes)}); keep one file per stem."
            )
        return files, ids, None
    unknown = [d.name for d in labelled if d.name not in classes]
    if unknown:
        raise ToolkitError(
            f"test/ has class folders that train/ lacks ({preview(unknown)}); rename or remove "
            "them."
        )
    files, ids, answers = [], [], []
    for folder in labelled:
        for path in _images.list_images(folder):
            files.append(path)
            ids.append(f"{folder.name}/{path.stem}")
            answers.append(classes.index(folder.name))
    return files, ids, np.asarray(answers, dtype=np.int64)


def _reorder(id_texts: list[str], sub: Submission) -> list[int]:
    """Positions of the submission's ids among the test files; both sets must be equal."""
    key = _images.name_key  # NFC: a sample's "café" is macOS's NFD file name "café"
    position = {key(t): i for i, t in enumerate(id_texts)}
    missing = [t for t in sub.id_texts if key(t) not in position]
    if missing:
        raise ToolkitError(
            f"sample_submission.csv lists {len(missing)} ids with no image in test/ "
            f"({preview(missing)}); add the images or remove those rows."
        )
    listed = {key(t) for t in sub.id_texts}
    extra = sorted(t for t in id_texts if key(t) not in listed)
    if extra:
        raise ToolkitError(
            f"{len(extra)} images in test/ are not in sample_submission.csv ({preview(extra)}); "
            "add their ids or remove the files."
        )
    return [position[key(t)] for t in sub.id_texts]


def _has_image(folder: Path) -> bool:
    with os.scandir(folder) as it:
        return any(_images.is_image(e.name) and e.is_file() for e in it)
