"""Competitions whose sample_submission.csv asks for each submission shape."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.data import Competition

from ._fakes import fake_competition


def write_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def with_sample(
    root: Path,
    header: Sequence[str],
    values: Sequence[Sequence[Any]],
    *,
    classes: Sequence[Any],
    ids: Sequence[Any] = ("a", "b", "c"),
) -> Competition:
    """A fake competition whose sample has ``header`` and, per id, the cells ``values``."""
    comp = fake_competition(root, ids=ids, classes=classes, sample=False)
    rows = [[str(i), *v] for i, v in zip(ids, values, strict=True)]
    write_rows(root / "sample_submission.csv", header, rows)
    return comp
