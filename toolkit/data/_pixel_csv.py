"""``pixel-csv``: images stored as pixel columns (Kaggle Digit Recognizer style).

train.csv has a label column and ``pixel0..pixelK`` columns (also ``pixel1..``, ``px0``, ``0..``
or ``1x1..28x28`` names); test.csv has the same pixel columns and optionally an id column (and a
label column, which then is the answer key). K+1 values per row are a grayscale square image;
3·S·S values are a channel-last RGB one. sample_submission.csv, when present, gives the
submission columns and the id order (Digit Recognizer: ``ImageId,Label``, ids 1..M, one per
test.csv row in order). Without it, ids come from test.csv's id column or are 0..M-1.
Training ids come from a train.csv column named like test.csv's id column, the submission's id
column or ``id`` (as written, in row order); without one (Digit Recognizer) they are unknown, and
a column holding blank or repeated ids is ignored with a warning rather than refused.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from toolkit.data._arrays import square_layout, to_uint8
from toolkit.data._competition import Parsed
from toolkit.data._resize import SizeRequest
from toolkit.data._tables import (
    Submission,
    check_classes,
    check_ids,
    check_labels,
    encode,
    preview,
    read_answer_key,
    read_header,
    read_submission,
    sorted_classes,
    texts,
    typed,
)
from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

NAME = "pixel-csv"
_PIXEL = re.compile(r"(?:pixel|pix|px|p)?[_ -]?\d+|\d+x\d+", re.IGNORECASE)
_NOT_DATA = ("sample_submission.csv", "test_labels.csv")


def is_pixel_column(name: str) -> bool:
    """True for a column name such as pixel0, pixel_12, px3, 17 or 3x14."""
    return bool(_PIXEL.fullmatch(name.strip()))


def is_pixel_header(columns: list[str]) -> bool:
    """True when most columns are pixel columns (at least 4 of them)."""
    pixels = sum(is_pixel_column(c) for c in columns)
    return pixels >= 4 and 2 * pixels > len(columns)


def find_csv(root: Path, kind: str) -> Path | None:
    """``<kind>.csv``, else the only ``*<kind>*.csv`` (e.g. fashion-mnist_train.csv)."""
    exact = root / f"{kind}.csv"
    if exact.is_file():
        return exact
    found = [
        p
        for p in root.glob("*.csv")
        if kind in p.stem.lower() and p.name not in _NOT_DATA and p.is_file()
    ]
    return found[0] if len(found) == 1 else None


def inputs(root: Path) -> list[Path]:
    """Files whose content determines the loaded competition."""
    found = [find_csv(root, "train"), find_csv(root, "test")]
    return [p for p in found if p] + [root / n for n in _NOT_DATA]


def load(root: Path, *, workers: int | None, request: SizeRequest, scratch: Path | None) -> Parsed:
    """Parse the pixel columns into square images and the label/id columns into labels/ids."""
    del workers, scratch  # parsing a CSV is one pandas call; nothing to spread over processes
    del request  # square arrays: load_competition resizes them (fit_arrays) if asked
    train_path = find_csv(root, "train")
    test_path = find_csv(root, "test")
    if train_path is None:
        raise ToolkitError(f"missing train.csv in {root}; it needs label and pixel columns.")
    if test_path is None:
        raise ToolkitError(
            f"missing test.csv in {root}; the pixel-csv layout needs test.csv with the same "
            "pixel columns as train.csv."
        )
    sub_path = root / "sample_submission.csv"
    sub = read_submission(sub_path) if sub_path.is_file() else None

    header = read_header(train_path)
    if len(set(header)) != len(header):
        raise ToolkitError(f"{train_path.name} repeats a column name; fix its header row.")
    pixels = [c for c in header if is_pixel_column(c)]
    side, channels = square_layout(len(pixels), what=train_path.name)
    others = [c for c in header if not is_pixel_column(c)]
    label_col = _label_column(others, sub, train_path.name)
    table = _read(train_path, pixels, others)
    if len(table) == 0:
        raise ToolkitError(f"{train_path.name} has no rows, so the train set is empty.")
    labels = texts(table, label_col)
    check_labels(labels, file=train_path.name, column=label_col)
    classes = sorted_classes(typed(labels))
    check_classes(classes, file=train_path.name)
    y_train = encode(labels, classes, file=train_path.name)  # (N,)
    x_train = _images(table, pixels, side, channels, train_path.name)  # (N, C, S, S)
    maybe_ids = {c: texts(table, c) for c in others if c != label_col}  # usually none or one
    del table

    test_header = read_header(test_path)
    if {c for c in test_header if is_pixel_column(c)} != set(pixels):
        raise ToolkitError(
            f"{test_path.name} does not have the same pixel columns as {train_path.name}; "
            "export both with the same columns."
        )
    test_others = [c for c in test_header if not is_pixel_column(c)]
    test_label = label_col if label_col in test_others else None
    id_candidates = [c for c in test_others if c != test_label]
    id_col = None
    if id_candidates:
        id_col = sub.id_column if sub and sub.id_column in id_candidates else id_candidates[0]
    ttable = _read(test_path, pixels, test_others)
    if len(ttable) == 0:
        raise ToolkitError(f"{test_path.name} has no rows, so the test set is empty.")
    x_test = _images(ttable, pixels, side, channels, test_path.name)  # (M, C, S, S)
    id_texts = texts(ttable, id_col) if id_col else None
    if id_texts is not None:
        check_ids(id_texts, file=test_path.name, column=id_col or "")
    answer_texts = texts(ttable, test_label) if test_label else None
    train_ids = _train_ids(maybe_ids, (id_col, sub.id_column if sub else None), train_path.name)

    order = _order(id_texts, len(x_test), sub, test_path.name)
    if order is not None:
        x_test = x_test[order]
        answer_texts = [answer_texts[i] for i in order] if answer_texts else None
    if sub is not None:
        final_texts, test_ids = list(sub.id_texts), sub.ids
        columns = (sub.id_column, sub.label_column)
    elif id_texts is not None:
        final_texts, test_ids = id_texts, tuple(typed(id_texts))
        columns = (id_col or "id", label_col)
    else:
        test_ids = tuple(range(len(x_test)))
        final_texts, columns = [str(i) for i in test_ids], ("id", label_col)

    y_test = None
    if answer_texts is not None:
        check_labels(answer_texts, file=test_path.name, column=label_col)
        y_test = encode(answer_texts, classes, file=test_path.name)
    elif (root / "test_labels.csv").is_file():
        y_test = read_answer_key(root / "test_labels.csv", final_texts, classes, sub)
    return Parsed(
        x_train=x_train,
        y_train=y_train,
        classes=classes,
        x_test=x_test,
        test_ids=test_ids,
        id_column=columns[0],
        label_column=columns[1],
        y_test=y_test,
        train_ids=train_ids,
    )


def _train_ids(
    columns: dict[str, list[str]], names: tuple[str | None, ...], file: str
) -> tuple[str, ...]:
    """The texts of train.csv's id column (one of ``columns``, named like one of ``names`` or
    ``id``, case-insensitively), or () when there is none or its ids are unusable."""
    wanted = {n.strip().lower() for n in names if n} | {"id"}
    found = [c for c in columns if c.strip().lower() in wanted]
    if not found:
        return ()
    try:
        check_ids(columns[found[0]], file=file, column=found[0])
    except ToolkitError as err:  # ids are only a convenience here: the images still load
        log.warning("%s; the training images are numbered by row instead", err)
        return ()
    return tuple(columns[found[0]])


def _label_column(others: list[str], sub: Submission | None, file: str) -> str:
    named = [c for c in others if c.strip().lower() == "label"]
    if named:
        return named[0]
    if sub and sub.label_column in others:
        return sub.label_column
    ids = {sub.id_column.lower()} if sub else set()
    rest = [c for c in others if c.strip().lower() not in ids | {"id"}]
    if not rest:
        raise ToolkitError(
            f"{file} has no label column (only pixel columns); add a 'label' column."
        )
    return rest[0]


def _read(path: Path, pixels: list[str], text_cols: list[str]) -> pd.DataFrame:
    """Pixel columns as float32, the others as text; any parse failure names the file."""
    import pandas as pd

    dtypes: dict[str, object] = {c: np.float32 for c in pixels}
    dtypes.update({c: str for c in text_cols})
    try:
        return pd.read_csv(
            path, dtype=dtypes, keep_default_na=False, na_filter=False, encoding="utf-8-sig"
        )
    except UnicodeDecodeError as err:
        raise ToolkitError(f"{path.name} is not UTF-8 text; re-save it as a UTF-8 CSV.") from err
    except Exception as err:  # pandas raises many types on malformed input
        reason = " ".join(str(err).split())
        raise ToolkitError(
            f"cannot parse {path.name}: {reason}; every pixel cell must be a number."
        ) from err


def _images(
    table: pd.DataFrame, pixels: list[str], side: int, channels: int, file: str
) -> np.ndarray:
    """Rows of pixel values as (N, C, S, S) uint8 images."""
    values = to_uint8(table[pixels].to_numpy(dtype=np.float32), what=file)  # (N, C·S·S)
    if channels == 1:
        return values.reshape(len(values), 1, side, side)
    # Channel-last RGB rows (r, g, b, r, g, b, ...), as exported from (S, S, 3) images.
    return np.ascontiguousarray(values.reshape(len(values), side, side, 3).transpose(0, 3, 1, 2))


def _order(
    ids: list[str] | None, count: int, sub: Submission | None, file: str
) -> list[int] | None:
    """Row order that puts test.csv in the submission's id order (None: keep file order)."""
    if sub is None:
        return None
    if ids is None:
        if len(sub.id_texts) != count:
            raise ToolkitError(
                f"sample_submission.csv has {len(sub.id_texts)} ids but {file} has {count} "
                "rows; they must match one to one (or add an id column to the test file)."
            )
        return None
    position = {t: i for i, t in enumerate(ids)}
    missing = [t for t in sub.id_texts if t not in position]
    if missing:
        raise ToolkitError(
            f"sample_submission.csv lists {len(missing)} ids not in {file} ({preview(missing)}); "
            "make the ids match."
        )
    extra = sorted(set(ids) - set(sub.id_texts))
    if extra:
        raise ToolkitError(
            f"{file} has {len(extra)} ids not in sample_submission.csv ({preview(extra)}); "
            "make the ids match."
        )
    return [position[t] for t in sub.id_texts]
