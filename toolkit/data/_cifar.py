"""``cifar-python``: the official CIFAR-10 / CIFAR-100 "python version" pickle batches.

CIFAR-10: ``cifar-10-batches-py/`` with data_batch_1..5, test_batch, batches.meta
(label_names). CIFAR-100: ``cifar-100-python/`` with train, test, meta (fine_label_names; the
fine labels are used). Each batch is a dict with b"data" uint8 (N, 3·S·S), planes R, G, B, and
b"labels" / b"fine_labels". The folder may be the path given or a child of it.

These batches are the only pickles the toolkit reads, and only from a path the user named.
They are read with an unpickler that can build nothing but dicts, lists, strings, numbers and
numpy arrays, so a tampered file cannot run code.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from toolkit.data._arrays import labels_from_array, plain_values, square_layout
from toolkit.data._competition import Parsed
from toolkit.data._resize import SizeRequest
from toolkit.data._tables import preview
from toolkit.errors import ToolkitError

NAME = "cifar-python"
KNOWN_DIRS = ("cifar-10-batches-py", "cifar-100-python")

# The globals the official batches (and numpy pickles of them) need; anything else is refused.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


def find(path: Path) -> Path | None:
    """The CIFAR batch folder: ``path`` itself or one child of it; None if there is none."""
    if _is_batch_dir(path):
        return path
    try:
        with os.scandir(path) as it:
            children = sorted(Path(e.path) for e in it if e.is_dir())
    except OSError:
        return None
    found = [c for c in children if _is_batch_dir(c)]
    if len(found) > 1:
        named = [c for c in found if c.name in KNOWN_DIRS]
        if len(named) != 1:
            raise ToolkitError(
                f"{path} holds several CIFAR folders ({preview(c.name for c in found)}); "
                "pass the one to load."
            )
        return named[0]
    return found[0] if found else None


def inputs(folder: Path) -> list[Path]:
    """Files and folders whose content determines the loaded competition."""
    return [*_train_files(folder), *_other_files(folder)]


def load(
    folder: Path, *, workers: int | None, request: SizeRequest, scratch: Path | None
) -> Parsed:
    """Unpickle the batches and reshape them to (N, C, S, S)."""
    del workers, scratch  # nothing to decode: the batches hold raw pixels
    del request  # square arrays: load_competition resizes them (fit_arrays) if asked
    cifar100 = not (folder / "test_batch").is_file()
    label_key = "fine_labels" if cifar100 else "labels"
    meta_file = folder / ("meta" if cifar100 else "batches.meta")
    names: list[str] | None = None
    if meta_file.is_file():
        names = _names(
            _read(meta_file), "fine_label_names" if cifar100 else "label_names", meta_file
        )

    train = [_batch(p, label_key) for p in _train_files(folder)]
    x_train = np.concatenate([x for x, _ in train])  # (N, C, S, S)
    y_raw = np.concatenate([y for _, y in train])
    y_train, classes = labels_from_array(y_raw, names, what=f"labels in {folder.name}")
    x_test, y_test_raw = _batch(folder / ("test" if cifar100 else "test_batch"), label_key)
    if x_test.shape[1:] != x_train.shape[1:]:
        raise ToolkitError(f"CIFAR test and train batches in {folder} differ in image size.")
    y_test, test_classes = labels_from_array(y_test_raw, names, what=f"test labels in {folder}")
    if names is None:  # integer classes: re-index the test labels against the train classes
        index = {c: i for i, c in enumerate(classes)}
        unknown = [c for c in test_classes if c not in index]
        if unknown:
            raise ToolkitError(
                f"CIFAR test batch in {folder} has labels missing from training "
                f"({preview(unknown)}); check the batches."
            )
        y_test = np.asarray([index[test_classes[i]] for i in y_test], dtype=np.int64)
    return Parsed(
        x_train=x_train,
        y_train=y_train,
        classes=classes,
        x_test=x_test,
        test_ids=tuple(range(len(x_test))),
        y_test=y_test,
    )


class _SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler(encoding="bytes")`` restricted to the globals of numpy arrays."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module.startswith("numpy"):
            return _numpy_global(name)
        return super().find_class(module, name)


def _numpy_global(name: str) -> Any:
    """numpy's pickle helpers, from numpy 2's ``numpy._core`` or numpy 1's ``numpy.core``."""
    if name in ("ndarray", "dtype"):
        return getattr(np, name)
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    return getattr(numeric if name == "_frombuffer" else multiarray, name)


def _read(path: Path) -> dict[str, Any]:
    """One pickled dict, keys decoded to str."""
    try:
        with path.open("rb") as f:
            obj = _load_pickle(f)
    except Exception as err:  # random bytes make pickle raise almost any type
        raise ToolkitError(
            f"cannot read CIFAR batch {path.name}: {type(err).__name__}: {err}; re-download "
            "the python version of the dataset."
        ) from err
    if not isinstance(obj, dict):
        raise ToolkitError(f"CIFAR batch {path.name} is not a dict; re-download the dataset.")
    return {k.decode("latin-1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _load_pickle(f: BinaryIO) -> Any:
    return _SafeUnpickler(f, encoding="bytes").load()


def _batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, C, S, S) uint8, raw labels (n,)) of one batch file."""
    batch = _read(path)
    if "data" not in batch or label_key not in batch:
        raise ToolkitError(
            f"CIFAR batch {path.name} has keys {preview(sorted(batch))}; expected 'data' and "
            f"'{label_key}': re-download the python version of the dataset."
        )
    data, labels = batch["data"], np.asarray(batch[label_key])
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.dtype != np.uint8:
        raise ToolkitError(
            f"CIFAR batch {path.name}: 'data' must be a uint8 array of shape (N, 3*S*S); "
            "re-download the dataset."
        )
    if labels.shape != (len(data),):
        raise ToolkitError(
            f"CIFAR batch {path.name} has {len(data)} images but {labels.size} labels."
        )
    side, channels = square_layout(data.shape[1], what=f"CIFAR batch {path.name}")
    plain_values(labels, what=f"labels in {path.name}")  # rejects non-integer labels early
    return data.reshape(len(data), channels, side, side), labels


def _names(meta: dict[str, Any], key: str, path: Path) -> list[str]:
    raw = meta.get(key)
    if not isinstance(raw, list) or not raw:
        raise ToolkitError(
            f"{path.name} has no '{key}' list (keys: {preview(sorted(meta))}); re-download "
            "the dataset."
        )
    try:
        return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in raw]
    except UnicodeDecodeError as err:
        raise ToolkitError(f"{path.name} has class names that are not UTF-8 text.") from err


def _train_files(folder: Path) -> list[Path]:
    if (folder / "train").is_file():
        return [folder / "train"]
    batches = [p for p in folder.iterdir() if re.fullmatch(r"data_batch_\d+", p.name)]
    return sorted(batches, key=lambda p: int(p.name.rsplit("_", 1)[1]))


def _other_files(folder: Path) -> list[Path]:
    return [folder / n for n in ("test_batch", "batches.meta", "test", "meta")]


def _is_batch_dir(path: Path) -> bool:
    cifar10 = (path / "data_batch_1").is_file() and (path / "test_batch").is_file()
    cifar100 = all((path / n).is_file() for n in ("train", "test", "meta"))
    return cifar10 or cifar100
