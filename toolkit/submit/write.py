"""Write a submission CSV: text exactly as validated, atomically, never over an existing file."""

from __future__ import annotations

import csv
import hashlib
import io as _io
from collections.abc import Iterable, Sequence
from pathlib import Path

from toolkit import io
from toolkit.errors import ToolkitError
from toolkit.submit.validate import Expected, Table, check_table


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
    path: Path, ids: Sequence[str], labels: Sequence[str], expected: Expected
) -> str:
    """Validate, then atomically write the CSV at ``path`` (which must not exist).

    ``ids`` are written exactly as given (the sample's textual form) with ``labels`` beside
    them; the text is parsed back and checked against ``expected`` before anything touches the
    disk. Returns the file's sha256.
    """
    text = format_csv(expected.header, zip(ids, labels, strict=True))
    check_table(parse_csv(text, path.name), expected)
    data = text.encode("utf-8")
    ensure_new(path)
    io.atomic_write(path, lambda fh: fh.write(data))
    return hashlib.sha256(data).hexdigest()
