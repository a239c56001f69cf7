"""Write a submission CSV: text exactly as validated, atomically, never over an existing file.

:func:`submission_rows` turns test probabilities into the value cells of each row for the
submission's shape; :func:`write_submission` writes them beside the ids after validating the text.
Probabilities are written with 6 significant digits (``f"{v:.6g}"``), clipped to [0, 1];
class-probability rows are renormalised so the written values sum to 1 within far less than
:data:`~toolkit.submit.validate.ROW_SUM_TOLERANCE`.
"""

from __future__ import annotations

import csv
import hashlib
import io as _io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit import io
from toolkit.errors import ToolkitError
from toolkit.submit.validate import Expected, Table, check_table

if TYPE_CHECKING:
    from toolkit.data._submission import SubmissionFormat


def submission_rows(
    fmt: SubmissionFormat, probs: np.ndarray, classes: Sequence[Any]
) -> list[list[str]]:
    """The value cells (no id) of each row, in the row order of ``probs`` (M, K).

    label: the class of highest probability; probability: the positive class's probability;
    class-probabilities: one value per header column (``fmt.class_order``); top-k: the
    min(k, K) most likely classes, space-separated, best first (ties: lower class index first).
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(classes):
        raise ValueError(f"probs must be (M, {len(classes)}), got {probs.shape}.")
    if not np.isfinite(probs).all():
        raise ToolkitError(
            "the predictions hold NaN or infinite values, so no submission can be written; "
            "the model diverged: retrain it with a lower learning rate."
        )
    names = [str(c) for c in classes]
    if fmt.kind == "label":
        return [[names[i]] for i in probs.argmax(axis=1).tolist()]
    if fmt.kind == "top-k":
        top = np.argsort(-probs, axis=1, kind="stable")[:, : min(fmt.k, len(names))]  # (M, k)
        return [[" ".join(names[i] for i in row)] for row in top.tolist()]
    probs = _normalised(probs)
    if fmt.kind == "probability":
        if fmt.positive_class is None:
            raise ValueError("a probability format needs its positive_class.")
        return [[_float(v)] for v in probs[:, fmt.positive_class].tolist()]
    if fmt.kind == "class-probabilities":
        ordered = probs[:, list(fmt.class_order)]  # (M, K) in header order
        return [[_float(v) for v in row] for row in ordered.tolist()]
    raise ValueError(f"unknown submission kind {fmt.kind!r}.")


def _normalised(probs: np.ndarray) -> np.ndarray:
    """Rows clipped to [0, 1] and divided by their sum (so the written values sum to 1)."""
    probs = np.clip(probs, 0.0, 1.0)
    sums = probs.sum(axis=1, keepdims=True)  # (M, 1)
    if (sums <= 0).any():
        raise ToolkitError(
            "a prediction row is all zeros, so it has no probabilities to write; check the "
            "model's outputs (they must be probabilities, not logits)."
        )
    return probs / sums


def _float(value: float) -> str:
    """Six significant digits, never "-0", "nan" or a value outside [0, 1]."""
    return f"{min(max(value, 0.0), 1.0) + 0.0:.6g}"


def format_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """CSV text with ``\\n`` line ends; cells are quoted only where CSV needs it."""
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def parse_csv(text: str, name: str) -> Table:
    """Read CSV text back the way :func:`toolkit.submit.validate.read_csv` reads a file."""
    reader = csv.reader(_io.StringIO(text, newline=""), strict=True)
    header = next(reader, None) or []
    rows, lines = [], []
    for row in reader:
        if row:
            rows.append(row)
            lines.append(reader.line_num)
    return Table(name, header, rows, lines)


def ensure_new(*paths: Path) -> None:
    """Refuse to go on when any of ``paths`` exists: submissions are never overwritten."""
    for path in paths:
        if path.exists():
            raise ToolkitError(
                f"{path} already exists; submissions are never overwritten: choose another "
                "--name or wait a second for a new timestamp."
            )


def write_submission(
    path: Path,
    ids: Sequence[str],
    rows: Sequence[Sequence[str]] | Sequence[str],
    expected: Expected,
) -> str:
    """Validate, then atomically write the CSV at ``path`` (which must not exist).

    ``ids`` are written exactly as given (the sample's textual form), each followed by its row
    of values (from :func:`submission_rows`; a plain string is a one-value row, so a list of
    labels still works); the text is parsed back and checked against ``expected`` before
    anything touches the disk. Returns the file's sha256.
    """
    lines = (
        [i, row] if isinstance(row, str) else [i, *row] for i, row in zip(ids, rows, strict=True)
    )
    text = format_csv(expected.header, lines)
    check_table(parse_csv(text, path.name), expected)
    data = text.encode("utf-8")
    ensure_new(path)
    io.atomic_write(path, lambda fh: fh.write(data))
    return hashlib.sha256(data).hexdigest()
