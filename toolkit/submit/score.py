"""Local leaderboard score of a submission CSV against an answer key, by the contest's metric.

The answer key is ``answers`` (a CSV of id,label), else the answer key of ``competition``,
else the ``test_labels.csv`` of the competition named in the submission's provenance JSON.
The submission's shape (label, probability, class-probabilities, top-k) comes from the
provenance's ``submission`` field when it has one, else from the file itself:

- a header of the id and two or more class names: ``class-probabilities``
- one column whose every value is a class: ``label``
- one column with several space-separated labels in a row: ``top-k``
- one column of numbers in [0, 1], not all whole: ``probability`` of the second class

Each row becomes scores over the sorted classes (a label: one-hot; a probability p: [1-p, p];
top-k: decreasing scores by rank, unlisted classes 0), which the metric scores
(:mod:`toolkit.metrics`). The metric is ``metric``, else the provenance's ``metric``, else the
kind's default (accuracy, log loss, MAP@k). The score is written back into the provenance JSON
(atomically) when there is one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.data._submission import unit_float
from toolkit.errors import ToolkitError
from toolkit.submit import provenance
from toolkit.submit.paths import provenance_path
from toolkit.submit.validate import Table, read_csv

if TYPE_CHECKING:
    from toolkit.data import Competition

ANSWERS = "test_labels.csv"  # the answer key's name in a competition folder


class Score(float):
    """A local test score: a float (its value) that also says which metric it is.

    It is a float so code written for the plain accuracy float keeps working (formatting,
    arithmetic, JSON); ``.value`` is the plain float. A lower log loss is better: compare two
    scores with ``toolkit.metrics.get_metric(score.metric).better(a, b)``, not with ``>``.
    """

    __slots__ = ("direction", "metric", "title")
    metric: str  # e.g. "log_loss", "map@5"
    title: str  # e.g. "log loss", "MAP@5"
    direction: str  # "maximize" | "minimize"

    def __new__(cls, value: float, metric: str, title: str, direction: str) -> Score:
        self = super().__new__(cls, value)
        for name, field in (("metric", metric), ("title", title), ("direction", direction)):
            object.__setattr__(self, name, field)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Score is read-only; cannot set {name!r}.")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Score, (self.value, self.metric, self.title, self.direction))

    @property
    def value(self) -> float:
        """The score as a plain float."""
        return float(self)

    def to_dict(self) -> dict[str, Any]:
        """``{"metric", "title", "value", "direction"}`` for ``--json`` output."""
        return {
            "metric": self.metric,
            "title": self.title,
            "value": self.value,
            "direction": self.direction,
        }


@dataclass(frozen=True)
class _Shape:
    """How to read the value cells of a submission being scored."""

    kind: str  # one of toolkit.data._submission.KINDS
    k: int  # top-k: labels per row; 1 otherwise
    classes: tuple[str, ...]  # class texts: the sorted classes, then unknown predicted labels
    known: int  # how many of ``classes`` are real classes (the rest: unknown predictions)
    positive: int  # probability: index of the positive class
    columns: tuple[str, ...]  # the submission's value columns (class-probabilities: classes)


def score_submission(
    path: str | Path,
    answers: str | Path | None = None,
    *,
    metric: str | None = None,
    competition: Competition | str | Path | None = None,
    record: bool = True,
) -> Score:
    """Score the submission at ``path``; stored in its provenance JSON if ``record``."""
    from toolkit.metrics import check_metric, default_metric, get_metric

    path = Path(path)
    if not path.is_file():
        raise ToolkitError(f"{path} does not exist; give the path of a submission CSV.")
    prov_file = provenance_path(path)
    prov = provenance.read(prov_file) if prov_file.is_file() else None
    comp = _load(competition)

    sub = read_csv(path)
    if len(sub.header) < 2:
        raise ToolkitError(f"{path.name} needs an id column and a label column.")
    key_name, expected, key_path = _answer_key(path, sub, answers, comp, prov)
    predicted = _rows_by_id(sub)
    missing = [i for i in expected if i not in predicted]
    if missing:
        raise ToolkitError(
            f"missing id: {path.name} has no row for {len(missing)} ids of {key_name} (e.g. "
            f"{missing[0]!r}); check the file with 'tk submit validate'."
        )
    order = list(expected)  # ids in answer-key order
    shape = _shape(sub, [predicted[i][0] for i in order], list(expected.values()), prov, comp)
    index = {c: i for i, c in enumerate(shape.classes)}
    unknown = [lab for lab in expected.values() if index.get(lab, shape.known) >= shape.known]
    if unknown:
        raise ToolkitError(
            f"{key_name} has label {unknown[0]!r}, which is not a class of {path.name} "
            f"({', '.join(shape.classes[: shape.known][:5])}...); score it against its own "
            "competition's answer key."
        )
    y = np.array([index[expected[i]] for i in order], dtype=np.int64)  # (N,)
    probs = _matrix(shape, [predicted[i] for i in order], path.name)  # (N, K)

    from toolkit.data._tables import typed

    name = metric or (prov or {}).get("metric") or default_metric(shape.kind)
    chosen = get_metric(str(name), k=max(shape.k, 1) if shape.kind == "top-k" else 5)
    check_metric(chosen, shape.kind, typed(list(shape.classes[: shape.known])))
    value = chosen(y, probs)
    if record and prov is not None:
        scored = {"answers": key_path, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if chosen.name == prov.get("metric", chosen.name):
            provenance.update(
                prov_file,
                local_test_score=round(value, 6),
                local_test_metric=chosen.name,
                scored=scored,
            )
        else:  # another metric, asked for once: kept beside, the leaderboard's stays
            others = dict(prov.get("other_scores") or {})
            others[chosen.name] = round(value, 6)
            provenance.update(prov_file, other_scores=others, scored=scored)
    return Score(value, chosen.name, chosen.title, chosen.direction)


def _load(competition: Competition | str | Path | None) -> Competition | None:
    if competition is None or not isinstance(competition, str | Path):
        return competition
    from toolkit.data import load_competition

    return load_competition(competition)


def _answer_key(
    path: Path, sub: Table, answers: str | Path | None, comp: Competition | None, prov: Any
) -> tuple[str, dict[str, str], str]:
    """(name for messages, {id: label text} in key order, what to record as the key)."""
    if answers is None and comp is not None:
        if comp.y_test is None:
            raise ToolkitError(
                f"competition {comp.name} has no answer key ({ANSWERS}); pass --answers FILE."
            )
        labels = [str(comp.classes[int(i)]) for i in comp.y_test]
        ids = [str(t) for t in comp.test_ids]
        return f"{comp.name}'s {ANSWERS}", dict(zip(ids, labels, strict=True)), str(comp.root)
    key = Path(answers) if answers is not None else _answers_of(path, prov)
    truth = read_csv(key)
    id_col, label_col = _answer_columns(truth, sub.header[0], sub.header[1])
    expected = {i: cells[0] for i, (cells, _) in _rows_by_id(truth, id_col, label_col).items()}
    if not expected:
        raise ToolkitError(f"{key} has no rows; it must list every test id with its label.")
    return key.name, expected, str(key.resolve())


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


def _rows_by_id(
    table: Table, id_col: int = 0, label_col: int | None = None
) -> dict[str, tuple[list[str], int]]:
    """{id: (value cells, line)}: the one ``label_col``, else every column after the id."""
    width = len(table.header) if label_col is None else max(id_col, label_col) + 1
    out: dict[str, tuple[list[str], int]] = {}
    for row, line in zip(table.rows, table.lines, strict=True):
        if len(row) < width:
            raise ToolkitError(f"row width: {table.name} line {line} has too few fields.")
        if row[id_col] in out:
            raise ToolkitError(
                f"duplicate id: {table.name} line {line} repeats id {row[id_col]!r}."
            )
        cells = row[1:width] if label_col is None else [row[label_col]]
        out[row[id_col]] = (cells, line)
    return out


def _shape(
    sub: Table,
    cells: list[list[str]],
    truth: list[str],
    prov: dict[str, Any] | None,
    comp: Competition | None,
) -> _Shape:
    """The kind, k and classes of the submission (see the module docstring)."""
    from toolkit.data._submission import KINDS
    from toolkit.data._tables import typed

    spec = (prov or {}).get("submission")
    spec = spec if isinstance(spec, dict) else {}
    known: list[str] = [str(c) for c in spec.get("classes") or []]
    if not known and comp is not None:
        known = [str(c) for c in comp.classes]
    values = sub.header[1:]
    kind, k = str(spec.get("kind") or ""), spec.get("k") or 1
    if (kind and kind not in KINDS) or not isinstance(k, int) or k < 1:
        raise ToolkitError(
            f"the provenance JSON of {sub.name} has a broken 'submission' field (kind {kind!r}, "
            f"k {k!r}); remove the field to detect the shape from the file."
        )
    if not kind:
        kind, k = _detect(values, [c[0] for c in cells], set(truth) | set(known))
    if kind == "class-probabilities":
        known = known or values
        strays = [c for c in values if c not in known]
        if strays:
            raise ToolkitError(
                f"{sub.name} has value columns that are not classes ({', '.join(strays[:5])}); "
                "a class-probabilities header is the id column and one column per class."
            )
    elif kind == "probability":
        known = known or list({*truth, *filter(None, [spec.get("positive_class")])})
    else:
        known = list({*known, *truth})
    real = [str(c) for c in sorted(typed(sorted(set(known))))]  # type: ignore[type-var]
    if kind == "probability" and len(real) != 2:
        raise ToolkitError(
            f"{sub.name} holds one probability per row, which scores 2 classes, but the answer "
            f"key and provenance name {len(real)} ({', '.join(real[:5])}); pass --answers with "
            "the right answer key."
        )
    extra: list[str] = []
    if kind in ("label", "top-k"):
        written = {t for c in cells for t in c[0].split()} if kind == "top-k" else set()
        written |= {c[0] for c in cells} if kind == "label" else set()
        extra = sorted(written - set(real))
    positive = spec.get("positive_class")
    pos = real.index(str(positive)) if kind == "probability" and str(positive) in real else 1
    return _Shape(kind, k, (*real, *extra), len(real), pos, tuple(values))


def _detect(values: list[str], cells: list[str], classes: set[str]) -> tuple[str, int]:
    """(kind, k) of a submission without a provenance ``submission`` field."""
    if len(values) > 1:
        return "class-probabilities", 1
    if all(c in classes for c in cells):
        return "label", 1
    counts = [len(c.split()) for c in cells]
    if max(counts, default=1) > 1:
        return "top-k", max(counts)
    numbers = [unit_float(c) for c in cells]
    if all(x is not None for x in numbers) and any(not x.is_integer() for x in numbers if x):
        return "probability", 1
    return "label", 1


def _matrix(shape: _Shape, rows: list[tuple[list[str], int]], name: str) -> np.ndarray:
    """(N, K) scores over ``shape.classes``, one row per submission row."""
    index = {c: i for i, c in enumerate(shape.classes)}
    out = np.zeros((len(rows), len(shape.classes)), dtype=np.float64)  # (N, K)
    for r, (cells, line) in enumerate(rows):
        if shape.kind == "label":
            out[r, index[cells[0]]] = 1.0
        elif shape.kind == "top-k":
            tokens = list(dict.fromkeys(cells[0].split()))  # a repeated label counts once
            for rank, token in enumerate(tokens):
                out[r, index[token]] = len(tokens) - rank
        elif shape.kind == "probability":
            p = _number(cells[0], name, line)
            out[r, shape.positive], out[r, 1 - shape.positive] = p, 1.0 - p
        else:
            for column, text in zip(shape.columns, cells, strict=True):
                out[r, index[column]] = _number(text, name, line)
    sums = out.sum(axis=1, keepdims=True)  # (N, 1)
    if (sums <= 0).any():
        line = rows[int(np.flatnonzero(sums[:, 0] <= 0)[0])][1]
        raise ToolkitError(f"{name} line {line} has all-zero probabilities; fix that row.")
    return out / sums


def _number(text: str, name: str, line: int) -> float:
    value = unit_float(text)
    if value is None:
        raise ToolkitError(
            f"value form: {name} line {line} has {text!r}, which is not a probability between "
            "0 and 1; check the file with 'tk submit validate'."
        )
    return value
