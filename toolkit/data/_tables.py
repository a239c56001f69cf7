"""CSV files of competitions: read every cell as text, check ids and labels, encode labels.

Cells are read as text and typed afterwards by :func:`typed`: a column whose every value is a
plain integer becomes ``int``, any other column stays ``str``. This keeps the values users wrote
(``"007"`` stays ``"007"`` so it still matches ``train/007.png`` and is written back unchanged).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from toolkit.data._competition import Label
from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    import pandas as pd

_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_MISSING = {"", "nan"}  # compared lower-cased: what pandas would silently turn into NaN


@dataclass(frozen=True)
class Submission:
    """The columns and test ids a sample_submission.csv asks for."""

    id_column: str  # header of its first column
    label_column: str  # header of its second column
    id_texts: tuple[str, ...]  # ids as written, in file order
    ids: tuple[Label, ...]  # the same ids, typed (int when all are integers)


def preview(items: Iterable[object], limit: int = 5) -> str:
    """``"a, b, c and 4 more"``: name a few items of a long list in an error message."""
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def read_header(path: Path) -> list[str]:
    """Column names of a CSV file from its first line only (cheap on a 100 MB pixel CSV)."""
    import csv

    _require(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            line = f.readline(1 << 22)
        return next(csv.reader([line]), [])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ToolkitError(f"cannot read {path}: {err}; it must be a UTF-8 CSV file.") from err


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV with every cell as text (no NaN guessing), naming the file on any failure."""
    import pandas as pd

    _require(path)
    try:
        table = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig"
        )
    except pd.errors.EmptyDataError as err:
        raise ToolkitError(f"{path} is empty; it needs a header row and data rows.") from err
    except UnicodeDecodeError as err:
        raise ToolkitError(f"{path} is not UTF-8 text; re-save it as a UTF-8 CSV.") from err
    except Exception as err:  # pandas raises many types on malformed input
        raise ToolkitError(f"cannot parse {path}: {_one_line(err)}; fix the CSV.") from err
    if len(table.columns) != len(set(table.columns)) or any(
        not isinstance(c, str) for c in table.columns
    ):
        raise ToolkitError(f"{path} has repeated or empty column names; fix its header row.")
    return table


def texts(table: pd.DataFrame, column: str) -> list[str]:
    """The cells of one column as strings (a missing trailing field becomes "")."""
    return [v if isinstance(v, str) else "" for v in table[column].tolist()]


def typed(values: Sequence[str]) -> list[Label]:
    """Integers if every value is a plain integer, else the strings unchanged."""
    if values and all(_INT.match(v) for v in values):
        return [int(v) for v in values]
    return list(values)


def check_ids(values: Sequence[str], *, file: str, column: str) -> None:
    """Ids must be non-empty, unique and free of surrounding spaces."""
    for line, value in enumerate(values, start=2):
        if not value.strip():
            raise ToolkitError(f"{file} line {line}: empty {column!r}; every row needs an id.")
        if value != value.strip():
            raise ToolkitError(
                f"{file} line {line}: id {value!r} has leading/trailing spaces; remove them."
            )
    dupes = [v for v, n in Counter(values).items() if n > 1]
    if dupes:
        raise ToolkitError(
            f"{file} has duplicate ids in {column!r}: {preview(dupes)}; each id must appear once."
        )


def check_labels(values: Sequence[str], *, file: str, column: str) -> None:
    """Labels must be present (not empty/NaN) and free of surrounding spaces."""
    for line, value in enumerate(values, start=2):
        if value.strip().lower() in _MISSING:
            raise ToolkitError(
                f"{file} line {line}: label in {column!r} is empty or NaN; every training "
                "image needs a label (fix or remove the row)."
            )
        if value != value.strip():
            raise ToolkitError(
                f"{file} line {line}: label {value!r} has leading/trailing spaces; remove them."
            )


def pick_columns(
    columns: Sequence[str], *, file: str, id_hint: str | None, label_hint: str | None
) -> tuple[str, str]:
    """(id column, label column) of a labelled CSV.

    The id column is the submission's id column when present, else the first column; the label
    column is the one named ``label`` (any case), else the submission's label column, else the
    first other column.
    """
    if not columns:
        raise ToolkitError(f"{file} has no columns; it needs an id and a label column.")
    id_col = id_hint if id_hint in columns else columns[0]
    others = [c for c in columns if c != id_col]
    if not others:
        raise ToolkitError(
            f"{file} has no label column (columns: {preview(columns)}); add a 'label' column."
        )
    named = [c for c in others if c.strip().lower() == "label"]
    if named:
        return id_col, named[0]
    return id_col, label_hint if label_hint in others else others[0]


def read_submission(path: Path) -> Submission:
    """The id/label column names and the ordered test ids of a sample_submission.csv."""
    table = read_table(path)
    columns = list(table.columns)
    if len(columns) < 2:
        raise ToolkitError(
            f"{path.name} must have an id column and a label column (found: "
            f"{preview(columns)}); write a header such as 'id,label'."
        )
    if len(table) == 0:
        raise ToolkitError(f"{path.name} has no rows; it must list every test id.")
    id_col, label_col = columns[0], columns[1]
    values = texts(table, id_col)
    check_ids(values, file=path.name, column=id_col)
    return Submission(id_col, label_col, tuple(values), tuple(typed(values)))


def sorted_classes(values: Iterable[Label]) -> tuple[Label, ...]:
    """Distinct label values in sorted order (numeric for ints, lexicographic for strings)."""
    return tuple(sorted(set(values)))  # type: ignore[type-var]


def check_classes(classes: Sequence[Label], *, file: str) -> None:
    """A classifier needs at least two classes to tell apart."""
    if len(classes) < 2:
        only = f" ({classes[0]!r})" if classes else ""
        raise ToolkitError(
            f"{file} has a single class{only}; a classifier needs at least 2 classes: add "
            "images of the other classes."
        )


def encode(values: Sequence[str], classes: Sequence[Label], *, file: str) -> np.ndarray:
    """Indices (N,) int64 of label texts into ``classes``, compared as text."""
    index = {str(c): i for i, c in enumerate(classes)}
    unknown = sorted({v for v in values if v not in index})
    if unknown:
        raise ToolkitError(
            f"{file} has labels that are not training classes: {preview(unknown)}; "
            "use the class names of the train set."
        )
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def read_answer_key(
    path: Path, test_texts: Sequence[str], classes: Sequence[Label], sub: Submission | None
) -> np.ndarray:
    """Answer key (e.g. test_labels.csv) as (M,) int64 indices aligned with the test ids."""
    table = read_table(path)
    id_col, label_col = pick_columns(
        list(table.columns),
        file=path.name,
        id_hint=sub.id_column if sub else None,
        label_hint=sub.label_column if sub else None,
    )
    ids, labels = texts(table, id_col), texts(table, label_col)
    check_ids(ids, file=path.name, column=id_col)
    check_labels(labels, file=path.name, column=label_col)
    answers = dict(zip(ids, labels, strict=True))
    missing = [t for t in test_texts if t not in answers]
    if missing:
        raise ToolkitError(
            f"{path.name} has no answer for {len(missing)} test ids ({preview(missing)}); "
            "list every test id or remove the file."
        )
    return encode([answers[t] for t in test_texts], classes, file=path.name)


def _require(path: Path) -> None:
    if not path.is_file():
        raise ToolkitError(f"missing {path.name} in {path.parent}; this layout expects it there.")


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
