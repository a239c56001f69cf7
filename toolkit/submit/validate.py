"""Check a submission against what the competition expects, before it is written or uploaded.

The expected shape comes from the competition's ``sample_submission.csv`` when it has one (its
exact header, and its ids in their exact textual form and order), else from the loaded
competition's ``test_ids``, ``id_column`` and ``label_column``; what each row holds besides its
id (a label, a probability, one probability per class, or the top k labels) comes from
:func:`toolkit.data._submission.submission_format`. Every cell is compared as text, so ``"007"``
must stay ``"007"`` and an integer class ``3`` must be written ``3``, not ``3.0``.

Rules, checked in this order; the first one broken raises a one-line :class:`ToolkitError` that
names it: ``empty file``, ``missing column``, ``extra column``, ``wrong column order``,
``wrong header``, ``row width``, ``empty value``, ``duplicate id``, ``extra id``,
``missing id``, then by kind:

- label: ``label form``, ``unknown label``
- probability: ``value form`` (a finite number in [0, 1])
- class-probabilities: ``value form``, ``row sum`` (1 within :data:`ROW_SUM_TOLERANCE`)
- top-k: ``label count`` (1..k labels), ``duplicate label``, ``label form``, ``unknown label``
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.data import Competition
    from toolkit.data._submission import SubmissionFormat

SAMPLE = "sample_submission.csv"
ROW_SUM_TOLERANCE = 1e-3  # class-probabilities: |sum of a row - 1| allowed (rounded values)


@dataclass(frozen=True)
class Expected:
    """What a valid submission looks like, every value as text."""

    header: tuple[str, ...]  # exact column names, in order
    id_texts: tuple[str, ...]  # test ids as the sample writes them, in the order to write them
    labels: tuple[str, ...]  # class values as text (str(3) == "3" for integer classes)
    source: str  # where the shape came from, for error messages
    kind: str = "label"  # one of toolkit.data._submission.KINDS
    k: int = 1  # top-k: at most this many labels per row

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


def expected_format(competition: Competition, fmt: SubmissionFormat | None = None) -> Expected:
    """The header, ids, labels and kind a submission to ``competition`` must have.

    ``fmt`` defaults to :func:`~toolkit.data._submission.submission_format` of the competition
    (detected from its sample, no settings).
    """
    from toolkit.data._submission import submission_format

    if fmt is None:
        fmt = submission_format(competition)
    labels = tuple(str(c) for c in competition.classes)
    sample = Path(competition.root) / SAMPLE
    if sample.is_file():
        ids = tuple(row[0] if row else "" for row in read_csv(sample).rows)
    else:
        ids = tuple(str(i) for i in competition.test_ids)
    return Expected(tuple(fmt.header), ids, labels, fmt.source, fmt.kind, fmt.k)


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
    frame_or_path: pd.DataFrame | str | Path,
    competition: Competition | str | Path,
    fmt: SubmissionFormat | None = None,
) -> None:
    """Raise :class:`ToolkitError` naming the first rule the submission breaks, else return.

    ``fmt`` is the submission's shape (default: detected from the competition's sample).
    """
    if isinstance(competition, str | Path):
        from toolkit.data import load_competition

        competition = load_competition(competition)
    if isinstance(frame_or_path, str | Path):
        table = read_csv(frame_or_path)
    else:
        table = frame_table(frame_or_path)
    check_table(table, expected_format(competition, fmt))


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
    needs = "an id and a label" if expected.kind == "label" else "a value in every column"
    for i, row in enumerate(table.rows):
        for column, value in zip(expected.header, row, strict=True):
            if not value.strip():
                raise ToolkitError(
                    f"empty value: {where(i)} has no value in column {column!r}; every row "
                    f"needs {needs}."
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
    if expected.kind == "label":
        for i, row in enumerate(table.rows):
            _check_label(row[1], row[0], where(i), expected.labels)
    elif expected.kind == "top-k":
        _check_top_k(table, expected, where)
    else:
        _check_probabilities(table, expected, where)


def _check_label(label: str, row_id: str, where: str, labels: Sequence[str]) -> None:
    if label in labels:
        return
    written = _same_class(label, labels)
    if written is not None:
        raise ToolkitError(
            f"label form: {where} (id {row_id!r}) has label {label!r} but the "
            f"competition writes that class as {written!r}; write labels exactly as the "
            "training labels are written."
        )
    raise ToolkitError(
        f"unknown label: {where} (id {row_id!r}) has label {label!r}, which is not "
        f"a class of the competition ({_preview(labels)})."
    )


def _check_top_k(table: Table, expected: Expected, where: Callable[[int], str]) -> None:
    labels = frozenset(expected.labels)
    for i, row in enumerate(table.rows):
        tokens = row[1].split()
        if len(tokens) > expected.k:
            raise ToolkitError(
                f"label count: {where(i)} (id {row[0]!r}) lists {len(tokens)} labels but the "
                f"submission takes at most {expected.k}; write the {expected.k} most likely "
                "classes, space-separated, best first."
            )
        if len(set(tokens)) < len(tokens):
            twice = next(t for t in tokens if tokens.count(t) > 1)
            raise ToolkitError(
                f"duplicate label: {where(i)} (id {row[0]!r}) lists {twice!r} twice; each "
                "class may appear once per row."
            )
        for token in tokens:
            if token not in labels:
                _check_label(token, row[0], where(i), expected.labels)


def _check_probabilities(table: Table, expected: Expected, where: Callable[[int], str]) -> None:
    columns = expected.header[1:]
    check_sum = expected.kind == "class-probabilities"
    for i, row in enumerate(table.rows):
        total = 0.0
        for column, text in zip(columns, row[1:], strict=True):
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not (0.0 <= value <= 1.0):  # also false for NaN
                raise ToolkitError(
                    f"value form: {where(i)} (id {row[0]!r}) has {text!r} in column {column!r}, "
                    "which is not a probability; write numbers between 0 and 1 such as 0.25."
                )
            total += value
        if check_sum and abs(total - 1.0) > ROW_SUM_TOLERANCE:
            raise ToolkitError(
                f"row sum: {where(i)} (id {row[0]!r}) has probabilities summing to {total:.6g}; "
                f"each row must sum to 1 (within {ROW_SUM_TOLERANCE:g}): divide every value by "
                "its row's sum."
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
