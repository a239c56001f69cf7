"""``kaggle-images``: train.csv + train/<id>.<ext> + test/<id>.<ext> + sample_submission.csv.

train.csv's first column is the id (or the submission's id column, if train.csv has it) and its
label column is the one named ``label`` (else the submission's label column, else the second
column). Ids match files by stem (``17`` -> ``train/17.png``) or by full name (``17.png``),
compared in NFC (a CSV's ``café`` finds the file macOS named in NFD).
The training ids are train.csv's id column as written (text: ``007`` stays ``007``), in its row
order, which is also the order of ``x_train``. The test ids are sample_submission.csv's first
column, in its order; test_labels.csv, when present, is the answer key.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from toolkit.data import _images
from toolkit.data._competition import Parsed
from toolkit.data._resize import SizeRequest
from toolkit.data._tables import (
    check_classes,
    check_ids,
    check_labels,
    encode,
    pick_columns,
    preview,
    read_answer_key,
    read_submission,
    read_table,
    sorted_classes,
    texts,
    typed,
)
from toolkit.errors import ToolkitError

NAME = "kaggle-images"
TRAIN_DIRS = ("train", "train_images")  # folder names Kaggle uses for the training images
TEST_DIRS = ("test", "test_images")


def image_dir(root: Path, names: tuple[str, ...]) -> Path | None:
    """The first of ``names`` that is a folder, descending into a lone same-purpose subfolder
    (archives often unpack to ``train/train/``)."""
    for name in names:
        folder = root / name
        if folder.is_dir():
            return _descend(folder)
    return None


def inputs(root: Path) -> list[Path]:
    """Files and folders whose content determines the loaded competition."""
    found = [root / "train.csv", root / "sample_submission.csv", root / "test_labels.csv"]
    return found + [d for d in (image_dir(root, TRAIN_DIRS), image_dir(root, TEST_DIRS)) if d]


def load(root: Path, *, workers: int | None, request: SizeRequest, scratch: Path | None) -> Parsed:
    """Read the CSVs, match ids to image files, then decode train and test images together
    at one size (into ``scratch``, when given)."""
    train_dir = image_dir(root, TRAIN_DIRS)
    test_dir = image_dir(root, TEST_DIRS)
    if train_dir is None:
        raise ToolkitError(f"missing train/ folder in {root}; put the training images there.")
    if test_dir is None:
        raise ToolkitError(f"missing test/ folder in {root}; put the test images there.")
    if not (root / "sample_submission.csv").is_file():
        raise ToolkitError(
            f"missing sample_submission.csv in {root}; the kaggle-images layout needs it for "
            "the test ids and the submission columns: write one with an 'id,label' header "
            "and one row per test id."
        )
    sub = read_submission(root / "sample_submission.csv")
    table = read_table(root / "train.csv")
    id_col, label_col = pick_columns(
        list(table.columns), file="train.csv", id_hint=sub.id_column, label_hint=sub.label_column
    )
    if len(table) == 0:
        raise ToolkitError("train.csv has no rows, so the train set is empty; add id,label rows.")
    ids, labels = texts(table, id_col), texts(table, label_col)
    check_ids(ids, file="train.csv", column=id_col)
    check_labels(labels, file="train.csv", column=label_col)
    classes = sorted_classes(typed(labels))
    check_classes(classes, file="train.csv")
    y_train = encode(labels, classes, file="train.csv")  # (N,)

    train_files = _match(ids, _Index(train_dir), root, "train.csv")
    test_index = _Index(test_dir)
    test_files = _match(list(sub.id_texts), test_index, root, "sample_submission.csv")
    extra = sorted(set(test_index.files) - set(test_files), key=lambda p: p.name)
    if extra:
        raise ToolkitError(
            f"{len(extra)} images in {_rel(test_dir, root)}/ are not in sample_submission.csv "
            f"({preview(p.name for p in extra)}); add their ids or remove the files."
        )
    y_test = None
    if (root / "test_labels.csv").is_file():
        y_test = read_answer_key(root / "test_labels.csv", sub.id_texts, classes, sub)

    x_train, x_test, policy = _images.decode_train_test(
        train_files, test_files, root=root, workers=workers, request=request, scratch=scratch
    )
    return Parsed(
        x_train=x_train,
        y_train=y_train,
        classes=classes,
        x_test=x_test,
        test_ids=sub.ids,
        id_column=sub.id_column,
        label_column=sub.label_column,
        y_test=y_test,
        image_policy=policy,
        train_ids=tuple(ids),  # train_files (hence x_train) follow train.csv's rows
    )


class _Index:
    """Image files of one folder, looked up by full name or by stem, both compared in NFC
    (:func:`~toolkit.data._images.name_key`: an id in NFC finds a file macOS named in NFD)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = _images.list_images(folder)
        self.by_name: dict[str, list[Path]] = defaultdict(list)
        self.by_stem: dict[str, list[Path]] = defaultdict(list)
        for p in self.files:
            self.by_name[_images.name_key(p.name)].append(p)
            self.by_stem[_images.name_key(p.stem)].append(p)

    def find(self, key: str) -> Path | None:
        key = key.replace("\\", "/").rsplit("/", 1)[-1]  # "train/17.png" names train/17.png
        key = _images.name_key(key)
        hits = self.by_name.get(key) or self.by_stem.get(key, [])
        if len(hits) > 1:
            same = len({p.name for p in hits}) > len({_images.name_key(p.name) for p in hits})
            raise ToolkitError(
                f"id {key!r} matches several files ({preview(p.name for p in hits)}) in "
                f"{self.folder}"
                f"{' (names that differ only in Unicode normalisation)' if same else ''}; "
                "keep one image per id."
            )
        return hits[0] if hits else None


def _match(ids: list[str], index: _Index, root: Path, file: str) -> list[Path]:
    found = [index.find(i) for i in ids]
    missing = [i for i, p in zip(ids, found, strict=True) if p is None]
    if missing:
        where = _rel(index.folder, root)
        exts = "/".join(sorted(e.lstrip(".") for e in _images.IMAGE_EXTENSIONS))
        raise ToolkitError(
            f"{file} lists {len(missing)} ids with no image in {where}/ ({preview(missing)}); "
            f"add <id>.<{exts}> files or remove those rows."
        )
    return [p for p in found if p is not None]


def _descend(folder: Path) -> Path:
    """``train/train/`` -> the inner folder, when the outer one holds nothing else."""
    try:
        with os.scandir(folder) as it:
            entries = [e for e in it if not e.name.startswith(".")]
    except OSError:
        return folder
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name == folder.name:
        return Path(entries[0].path)
    return folder


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
