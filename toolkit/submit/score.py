"""Local leaderboard score: accuracy of a submission CSV against an answer key.

The answer key is ``--answers`` or the ``test_labels.csv`` of the competition named in the
submission's provenance JSON. Labels are compared as text, as a leaderboard would. The score is
written back into the provenance JSON (atomically) when there is one.
"""

from __future__ import annotations

import time
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.submit import provenance
from toolkit.submit.paths import provenance_path
from toolkit.submit.validate import Table, read_csv

ANSWERS = "test_labels.csv"  # the answer key's name in a competition folder


def score_submission(
    path: str | Path, answers: str | Path | None = None, *, record: bool = True
) -> float:
    """Accuracy of the submission at ``path``; stored in its provenance JSON if ``record``."""
    path = Path(path)
    if not path.is_file():
        raise ToolkitError(f"{path} does not exist; give the path of a submission CSV.")
    prov_file = provenance_path(path)
    prov = provenance.read(prov_file) if prov_file.is_file() else None
    key = Path(answers) if answers is not None else _answers_of(path, prov)

    sub = read_csv(path)
    if len(sub.header) < 2:
        raise ToolkitError(f"{path.name} needs an id column and a label column.")
    predicted = _labels_by_id(sub, 0, 1)
    truth = read_csv(key)
    id_col, label_col = _answer_columns(truth, sub.header[0], sub.header[1])
    expected = _labels_by_id(truth, id_col, label_col)
    if not expected:
        raise ToolkitError(f"{key} has no rows; it must list every test id with its label.")
    missing = [i for i in expected if i not in predicted]
    if missing:
        raise ToolkitError(
            f"missing id: {path.name} has no row for {len(missing)} ids of {key.name} (e.g. "
            f"{missing[0]!r}); check the file with 'tk submit validate'."
        )
    score = sum(predicted[i] == lab for i, lab in expected.items()) / len(expected)
    if record and prov is not None:
        provenance.update(
            prov_file,
            local_test_score=round(score, 6),
            scored={"answers": str(key.resolve()), "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        )
    return score


def _answers_of(path: Path, prov: dict | None) -> Path:
    if prov is None:
        raise ToolkitError(
            f"{path.name} has no provenance JSON beside it, so its competition is unknown; pass "
            "--answers test_labels.csv."
        )
    key = Path(str(prov.get("competition_path", ""))) / ANSWERS
    if not key.is_file():
        raise ToolkitError(f"no answer key at {key}; local scores need one: pass --answers FILE.")
    return key


def _answer_columns(table: Table, id_hint: str, label_hint: str) -> tuple[int, int]:
    """(id, label) column indices: the submission's names when present, else the first two."""
    header = table.header
    if len(header) < 2:
        raise ToolkitError(f"{table.name} needs an id column and a label column.")
    id_col = header.index(id_hint) if id_hint in header else 0
    others = [i for i in range(len(header)) if i != id_col]
    named = [i for i in others if header[i].strip().lower() == "label"]
    if label_hint in header and header.index(label_hint) != id_col:
        return id_col, header.index(label_hint)
    return id_col, (named or others)[0]


def _labels_by_id(table: Table, id_col: int, label_col: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for row, line in zip(table.rows, table.lines, strict=True):
        if len(row) <= max(id_col, label_col):
            raise ToolkitError(f"row width: {table.name} line {line} has too few fields.")
        if row[id_col] in out:
            raise ToolkitError(
                f"duplicate id: {table.name} line {line} repeats id {row[id_col]!r}."
            )
        out[row[id_col]] = row[label_col]
    return out
