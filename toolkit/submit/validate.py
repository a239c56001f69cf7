"""Check a submission against what the competition expects, before it is written or uploaded.

The expected shape comes from the competition's ``sample_submission.csv`` when it has one (its
exact header, and its ids in their exact textual form and order), else from the loaded
competition's ``test_ids``, ``id_column`` and ``label_column``. Every cell is compared as text,
so ``"007"`` must stay ``"007"`` and an integer class ``3`` must be written ``3``, not ``3.0``.

Rules, checked in this order; the first one broken raises a one-line :class:`ToolkitError` that
names it: ``empty file``, ``missing column``, ``extra column``, ``wrong column order``,
``wrong header``, ``row width``, ``empty value``, ``duplicate id``, ``extra id``,
``missing id``, ``label form``, ``unknown label``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.data import Competition

SAMPLE = "sample_submission.csv"


@dataclass(frozen=True)
class Expected:
    """What a valid submission looks like, every value as text."""

    header: tuple[str, ...]  # exact column names, in order
    id_texts: tuple[str, ...]  # test ids as the sample writes them, in the order to write them
    labels: tuple[str, ...]  # class values as text (str(3) == "3" for integer classes)
    source: str  # where the shape came from, for error messages

    @property
    def id_column(self) -> str:
        return self.header[0]

    @property
    def label_column(self) -> str:
        return self.header[1]


@dataclass(frozen=True)
class Table:
    """A CSV as text: header, rows and the file line where each row starts."""

    name: str  # file name (or "submission") for error messages
    header: list[str]
    rows: list[list[str]]
    lines: list[int]  # (len(rows),) 1-based line numbers


def expected_format(competition: Competition) -> Expected:
    """The header, ids and labels a submission to ``competition`` must have."""
    labels = tuple(str(c) for c in competition.classes)
    sample = Path(competition.root) / SAMPLE
    if sample.is_file():
        table = read_csv(sample)
        if len(table.header) < 2:
            raise ToolkitError(f"{sample} needs an id column and a label column; fix its header.")
        ids = tuple(row[0] if row else "" for row in table.rows)
        return Expected(tuple(table.header), ids, labels, SAMPLE)
    ids = tuple(str(i) for i in competition.test_ids)
    header = (competition.id_column, competition.label_column)
    return Expected(header, ids, labels, "the competition's test ids")


def read_csv(path: str | Path) -> Table:
    """Every cell of a CSV file as text (blank lines skipped), naming the file on failure."""
    path = Path(path)
    if not path.is_file():
        raise ToolkitError(f"{path} does not exist; give the path of a CSV file.")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, strict=True)
            header = next(reader, None)
            rows, lines = [], []
            for row in reader:
                if row:
                    rows.append(row)
                    lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise ToolkitError(f"{path} is not UTF-8 text; re-save it as a UTF-8 CSV.") from None
    except (OSError, csv.Error) as err:
        raise ToolkitError(f"cannot read {path} as CSV ({err}); fix the file.") from None
    return Table(path.name, header or [], rows, lines)


def frame_table(frame: pd.DataFrame, name: str = "submission") -> Table:
    """A DataFrame as text cells; NaN and None become empty cells (the ``empty value`` rule)."""
    rows = [[_text(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return Table(name, [str(c) for c in frame.columns], rows, list(range(2, len(rows) + 2)))


def validate_submission(
    frame_or_path: pd.DataFrame | str | Path, competition: Competition | str | Path
) -> None:
    """Raise :class:`ToolkitError` naming the first rule the submission breaks, else return."""
    if isinstance(competition, str | Path):
        from toolkit.data import load_competition

        competition = load_competition(competition)
    if isinstance(frame_or_path, str | Path):
        table = read_csv(frame_or_path)
    else:
        table = frame_table(frame_or_path)
    check_table(table, expected_format(competition))


def check_table(table: Table, expected: Expected) -> None:
    """Apply every rule, in order, to a CSV read as text."""
    _check_header(table, expected)
    width = len(expected.header)

    def where(i: int) -> str:  # made only for the error message, not for each of 300,000 rows
        return f"{table.name} line {table.lines[i]}"

    for i, row in enumerate(table.rows):
        if len(row) != width:
            raise ToolkitError(
                f"row width: {where(i)} has {len(row)} fields but the header has {width}; "
                "write exactly one value per column."
            )
    for i, row in enumerate(table.rows):
        for column, value in zip(expected.header, row, strict=True):
            if not value.strip():
                raise ToolkitError(
                    f"empty value: {where(i)} has no value in column {column!r}; every row "
                    "needs an id and a label."
                )
    seen: dict[str, int] = {}
    for i, row in enumerate(table.rows):
        if row[0] in seen:
            raise ToolkitError(
                f"duplicate id: {row[0]!r} appears on {where(seen[row[0]])} and again on "
                f"line {table.lines[i]}; each id must appear once."
            )
        seen[row[0]] = i
    wanted = set(expected.id_texts)
    for i, row in enumerate(table.rows):
        if row[0] not in wanted:
            raise ToolkitError(
                f"extra id: {where(i)} has id {row[0]!r}, which is not in {expected.source}"
                f"{_id_hint(row[0], expected.id_texts)}; submit only the test ids."
            )
    missing = [t for t in expected.id_texts if t not in seen]
    if missing:
        raise ToolkitError(
            f"missing id: {len(missing)} ids of {expected.source} have no row (e.g. "
            f"{missing[0]!r}); write one row per test id."
        )
    labels = set(expected.labels)
    for i, row in enumerate(table.rows):
        label = row[1]
        if label in labels:
            continue
        written = _same_class(label, expected.labels)
        if written is not None:
            raise ToolkitError(
                f"label form: {where(i)} (id {row[0]!r}) has label {label!r} but the "
                f"competition writes that class as {written!r}; write labels exactly as the "
                "training labels are written."
            )
        raise ToolkitError(
            f"unknown label: {where(i)} (id {row[0]!r}) has label {label!r}, which is not "
            f"a class of the competition ({_preview(expected.labels)})."
        )


def _check_header(table: Table, expected: Expected) -> None:
    got, want = table.header, list(expected.header)
    if not got:
        raise ToolkitError(f"empty file: {table.name} has no header row; write {_csv(want)}.")
    if got == want:
        return
    missing = [c for c in want if c not in got]
    extra = [c for c in got if c not in want]
    if missing and not extra:
        raise ToolkitError(
            f"missing column: {table.name} lacks column {missing[0]!r}; the header must be "
            f"{_csv(want)}."
        )
    if extra and not missing:
        raise ToolkitError(
            f"extra column: {table.name} has column {extra[0]!r}, which {expected.source} does "
            f"not have; the header must be {_csv(want)}."
        )
    if sorted(got) == sorted(want):
        raise ToolkitError(
            f"wrong column order: {table.name} has header {_csv(got)}; the columns must be "
            f"in the order {_csv(want)}."
        )
    raise ToolkitError(
        f"wrong header: {table.name} has header {_csv(got)} but {expected.source} has "
        f"{_csv(want)}; use that header exactly."
    )


def _same_class(label: str, classes: Sequence[str]) -> str | None:
    """The class ``label`` means when it is written in another form ("3.0", " cat", "Cat")."""
    text = label.strip()
    if text in classes:
        return text
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if math.isfinite(number) and number == int(number) and str(int(number)) in classes:
        return str(int(number))
    folded = [c for c in classes if c.casefold() == text.casefold()]
    return folded[0] if len(folded) == 1 else None


def _id_hint(value: str, ids: Sequence[str]) -> str:
    """Point at the sample's spelling of an id written in another form ("7" for "007")."""
    try:
        number = int(value.strip())
    except ValueError:
        return ""
    for text in ids:
        if text.strip().isdigit() and int(text) == number:
            return f" (the sample writes it {text!r})"
    return ""


def _text(value: Any) -> str:
    import pandas as pd

    try:
        if value is None or pd.isna(value):  # NaN, None, pd.NA, NaT
            return ""
    except (TypeError, ValueError):  # pd.isna of a list-like cell is an array, not a bool
        pass
    return str(value)


def _csv(columns: Sequence[str]) -> str:
    return repr(",".join(columns))


def _preview(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
