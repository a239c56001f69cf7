"""``npz``: one NumPy archive with x_train, y_train, x_test (and optional y_test, class_names,
test_ids, train_ids); the path is the .npz file or a folder holding exactly one.

x arrays may be (N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1, 3, 4 (the layout is told
by which axis is 1/3/4 and which two are equal; (N, H, W, C) wins a tie). A fourth (alpha)
channel is dropped. Keys match case-insensitively (X_train works). Loaded with
``allow_pickle=False``: object arrays are refused, never unpickled.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from toolkit.data._arrays import encode_values, labels_from_array, plain_values, to_uint8
from toolkit.data._competition import Label, Parsed
from toolkit.data._resize import SizeRequest
from toolkit.data._tables import preview
from toolkit.errors import ToolkitError

NAME = "npz"
REQUIRED = ("x_train", "y_train", "x_test")
OPTIONAL = ("y_test", "class_names", "test_ids", "train_ids")


def archives(folder: Path) -> list[Path]:
    """Visible .npz files directly inside ``folder``, sorted."""
    with os.scandir(folder) as it:
        found = [
            Path(e.path)
            for e in it
            if e.name.lower().endswith(".npz") and not e.name.startswith(".") and e.is_file()
        ]
    return sorted(found)


def inputs(path: Path) -> list[Path]:
    """The archive itself is the whole competition."""
    return [path]


def load(path: Path, *, workers: int | None, request: SizeRequest, scratch: Path | None) -> Parsed:
    """Read the arrays, put images in (N, C, H, W) uint8 and labels in index form."""
    del workers, scratch  # nothing to decode
    del request  # square arrays: load_competition resizes them (fit_arrays) if asked
    arrays = _read(path)
    x_train = _images(arrays["x_train"], f"{path.name}: x_train")  # (N, C, H, W)
    x_test = _images(arrays["x_test"], f"{path.name}: x_test")  # (M, C, H, W)
    _same_length(arrays["y_train"], x_train, f"{path.name}: y_train")
    names: list[Label] | None = None
    if "class_names" in arrays:
        names = plain_values(arrays["class_names"], what=f"{path.name}: class_names")
    y_train, classes = labels_from_array(arrays["y_train"], names, what=f"{path.name}: y_train")
    y_test = None
    if "y_test" in arrays:
        what = f"{path.name}: y_test"
        _same_length(arrays["y_test"], x_test, what)
        if names is not None:
            y_test, _ = labels_from_array(arrays["y_test"], names, what=what)
        else:
            y_test = encode_values(plain_values(arrays["y_test"], what=what), classes, what=what)
    test_ids = _ids(arrays, "test", x_test, path) or tuple(range(len(x_test)))
    return Parsed(
        x_train=x_train,
        y_train=y_train,
        classes=classes,
        x_test=x_test,
        test_ids=test_ids,
        y_test=y_test,
        train_ids=_ids(arrays, "train", x_train, path),  # () without a train_ids array
    )


def _ids(arrays: dict[str, np.ndarray], part: str, x: np.ndarray, path: Path) -> tuple[Label, ...]:
    """The ``<part>_ids`` array as plain values, one per image of ``x``; () when absent."""
    if f"{part}_ids" not in arrays:
        return ()
    what = f"{path.name}: {part}_ids"
    _same_length(arrays[f"{part}_ids"], x, what)
    ids = tuple(plain_values(arrays[f"{part}_ids"], what=what))
    if len(set(ids)) != len(ids):
        raise ToolkitError(f"{what} has duplicate ids; each {part} image needs its own id.")
    return ids


def _read(path: Path) -> dict[str, np.ndarray]:
    """The known arrays of the archive, by canonical (lower-case) name."""
    try:
        with path.open("rb") as f:
            magic = f.read(2)
    except OSError as err:
        raise ToolkitError(f"cannot read {path}: {err}; check its permissions.") from err
    if magic != b"PK":  # every zip archive (hence every .npz) starts with these two bytes
        raise ToolkitError(f"{path.name} is not an .npz (zip) archive; save it with np.savez.")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as err:  # zipfile/numpy raise many types on a damaged file
        raise ToolkitError(
            f"cannot read {path.name}: {' '.join(str(err).split())}; save it with np.savez."
        ) from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ToolkitError(f"{path.name} is a single array, not an .npz archive; use np.savez.")
    with archive:
        keys = {k.lower(): k for k in archive.files}
        missing = [k for k in REQUIRED if k not in keys]
        if missing:
            raise ToolkitError(
                f"{path.name} lacks {', '.join(missing)} (it has: {preview(archive.files) or '-'}"
                "); save x_train, y_train and x_test (optional y_test, class_names, test_ids, "
                "train_ids)."
            )
        out = {}
        for name in (*REQUIRED, *OPTIONAL):
            if name not in keys:
                continue
            try:
                out[name] = archive[keys[name]]
            except ValueError as err:  # object arrays need pickle, which is never allowed
                raise ToolkitError(
                    f"{path.name}: {name} holds Python objects; save plain numeric or string "
                    "arrays (allow_pickle is off)."
                ) from err
            except Exception as err:
                raise ToolkitError(
                    f"{path.name}: cannot read {name} ({' '.join(str(err).split())}); "
                    "save the archive again."
                ) from err
    return out


def _images(x: np.ndarray, what: str) -> np.ndarray:
    """Any supported image-array layout as (N, C, H, W) uint8."""
    shape = x.shape
    if x.ndim == 3 and shape[1] == shape[2]:
        x = x[:, None]
    elif x.ndim == 4 and shape[3] in (1, 3, 4) and shape[1] == shape[2]:
        x = x.transpose(0, 3, 1, 2)
    elif not (x.ndim == 4 and shape[1] in (1, 3, 4) and shape[2] == shape[3]):
        raise ToolkitError(
            f"{what} has shape {shape}; expected square images as (N, H, W), (N, H, W, C) or "
            "(N, C, H, W) with C in 1, 3, 4."
        )
    if x.shape[1] == 4:
        x = x[:, :3]  # RGBA: the alpha channel carries no class information here
    return np.ascontiguousarray(to_uint8(x, what=what))


def _same_length(values: np.ndarray, x: np.ndarray, what: str) -> None:
    if values.ndim != 1 or len(values) != len(x):
        raise ToolkitError(
            f"{what} has shape {values.shape} but there are {len(x)} images; give one per image."
        )
