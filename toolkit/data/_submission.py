"""The shape of a submission file: one label, a probability, one probability per class, or top-k.

:func:`submission_format` reads it off the competition's ``sample_submission.csv`` (its header
and value cells, as text) or, without a sample, builds it from the competition's id and label
columns. The user settings ``submission.kind``, ``submission.k`` and
``submission.positive_class`` override what the sample suggests.

Detection, for a sample with one value column (checked in this order):

1. every sample value is a class (as text), or the column is empty: ``label``
2. some value holds several space-separated tokens: ``top-k`` (MAP@k contests)
3. every value is a number in [0, 1] and not all are whole (``0.5``): ``probability``, which
   needs exactly two classes
4. anything else (placeholders such as ``0`` or ``cat``): ``label``

A sample with several value columns is ``class-probabilities`` when those columns are exactly
the class names; anything else is an error naming the columns that are not classes.

``top-k`` with ``k`` above the number of classes K is allowed (a contest's MAP@5 with 3
classes), but only min(k, K) labels can be written per row.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.data._tables import preview, read_header, read_table, texts
from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.data._competition import Competition

KINDS = ("label", "probability", "class-probabilities", "top-k")
SAMPLE = "sample_submission.csv"
FROM_IDS = "the competition's test ids"  # ``source`` when there is no sample
DEFAULT_K = 5  # labels per row of a top-k sample whose rows disagree on their count (MAP@5)


@dataclass(frozen=True)
class SubmissionFormat:
    """What each row of a submission holds besides its id."""

    kind: str  # one of KINDS
    header: tuple[str, ...]  # exact columns to write, id column first
    k: int = 1  # labels per row (top-k); 1 otherwise
    positive_class: int | None = None  # probability: index into classes of the positive class
    class_order: tuple[int, ...] = ()  # class-probabilities: class index of each value column
    source: str = ""  # "sample_submission.csv" or "the competition's test ids" (error messages)

    def to_record(self, classes: Sequence[Any]) -> dict[str, Any]:
        """The provenance JSON's ``submission`` field, which :mod:`toolkit.submit.score` reads."""
        positive = None if self.positive_class is None else str(classes[self.positive_class])
        return {
            "kind": self.kind,
            "k": self.k,
            "positive_class": positive,
            "classes": [str(c) for c in classes],
        }


def submission_format(
    comp: Competition, *, kind: str = "", k: int = 0, positive_class: str = ""
) -> SubmissionFormat:
    """The submission shape of ``comp``: from its sample, else its id/label columns.

    ``kind``, ``k`` and ``positive_class`` come from the settings ``submission.kind``,
    ``submission.k`` and ``submission.positive_class``; empty/0 means "detect".
    """
    if kind and kind not in KINDS:
        raise ToolkitError(
            f"unknown submission kind {kind!r}; pass --set submission.kind= one of "
            f"{', '.join(KINDS)}."
        )
    if k < 0:
        raise ToolkitError(f"submission.k must be at least 1, got {k}; pass --set submission.k=5.")
    names = [str(c) for c in comp.classes]
    positive = _positive_index(positive_class, names)
    sample = Path(comp.root) / SAMPLE
    if sample.is_file():
        fmt = _from_sample(sample, names, kind, k, positive)
    else:
        fmt = _from_columns(comp.id_column, comp.label_column, names, kind or "label", k, positive)
    if positive_class and fmt.kind != "probability":
        raise ToolkitError(
            f"submission.positive_class={positive_class} only applies to probability "
            f"submissions but {fmt.source} gives a {fmt.kind} submission; pass --set "
            "submission.kind=probability or drop the setting."
        )
    if k > 1 and fmt.kind != "top-k":
        raise ToolkitError(
            f"submission.k={k} only applies to top-k submissions but {fmt.source} gives a "
            f"{fmt.kind} submission; pass --set submission.kind=top-k or drop the setting."
        )
    return fmt


def check_header(header: Sequence[str], file: str = SAMPLE) -> None:
    """Refuse a header with an empty or a repeated column name (pandas would rename them)."""
    if len(header) < 2:
        raise ToolkitError(
            f"{file} needs an id column and at least one value column (header: "
            f"{','.join(header)!r}); write a header such as 'id,label'."
        )
    for i, name in enumerate(header, start=1):
        if not name.strip():
            raise ToolkitError(
                f"{file} has an empty column name (column {i} of {','.join(header)!r}, often a "
                "trailing comma); remove it from the header."
            )
    repeated = [name for name, n in Counter(header).items() if n > 1]
    if repeated:
        raise ToolkitError(
            f"{file} repeats column {repeated[0]!r} in its header; each column name must "
            "appear once."
        )


def read_sample(path: Path) -> list[str]:
    """The ids of a sample submission, read the way a submission is later checked against it
    (:mod:`toolkit.submit.validate`: the csv module, every cell as text), refusing at load what
    would otherwise fail only at ``tk submit``: an empty or repeated column name, and a row
    wider than the header (pandas would silently read its first column as an index)."""
    import csv

    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, strict=True)
            header = next(reader, None) or []
            check_header(header, path.name)
            ids = []
            for row in reader:
                if not row:
                    continue
                if len(row) > len(header):
                    raise ToolkitError(
                        f"{path.name} line {reader.line_num} has {len(row)} fields but its "
                        f"header {','.join(header)!r} has {len(header)} (often a trailing "
                        "comma); write one value per header column, or name the extra column."
                    )
                ids.append(row[0])
    except UnicodeDecodeError:
        raise ToolkitError(f"{path} is not UTF-8 text; re-save it as a UTF-8 CSV.") from None
    except (OSError, csv.Error) as err:
        raise ToolkitError(f"cannot read {path} as CSV ({err}); fix the file.") from None
    return ids


def _positive_index(positive_class: str, names: list[str]) -> int | None:
    if not positive_class:
        return None
    if positive_class not in names:
        raise ToolkitError(
            f"submission.positive_class={positive_class} is not a class; pass one of "
            f"{preview(names, 10)}."
        )
    return names.index(positive_class)


def _from_sample(
    sample: Path, names: list[str], kind: str, k: int, positive: int | None
) -> SubmissionFormat:
    header = read_header(sample)
    check_header(header)
    values = header[1:]
    if len(values) > 1 or kind == "class-probabilities":
        return _class_columns(header, names, kind)
    cells = [v.strip() for v in texts(read_table(sample), values[0]) if v.strip()]
    head = tuple(header)
    if not kind:
        kind = _detect(cells, names, values[0])
    if kind == "label":
        return SubmissionFormat("label", head, source=SAMPLE)
    if kind == "top-k":
        counts = {len(c.split()) for c in cells}
        found = counts.pop() if len(counts) == 1 else DEFAULT_K
        return _top_k(head, k or found, SAMPLE)
    fmt = _probability(head, names, positive, SAMPLE)  # forced or detected
    for cell in cells:
        if unit_float(cell) is None:
            raise ToolkitError(
                f"{SAMPLE} column {values[0]!r} holds {cell!r} where a probability submission "
                "expects numbers in [0, 1]; pass --set submission.kind=label or fix the sample."
            )
    return fmt


def _detect(cells: list[str], names: list[str], column: str) -> str:
    classes = set(names)
    if all(c in classes for c in cells):
        return "label"
    if any(len(c.split()) > 1 for c in cells):
        return "top-k"
    numbers = [unit_float(c) for c in cells]
    if numbers and all(x is not None for x in numbers):
        fractions = [c for c, x in zip(cells, numbers, strict=True) if x and not x.is_integer()]
        if fractions and len(names) == 2:
            return "probability"
        if fractions:
            raise ToolkitError(
                f"{SAMPLE} has one value column ({column!r}) with fractional values "
                f"({fractions[0]}) but the train set has {len(names)} classes, so it cannot "
                "hold the probability of one class; pass --set submission.kind=label "
                f"(or top-k, class-probabilities; one of {', '.join(KINDS)})."
            )
    return "label"


def _class_columns(header: list[str], names: list[str], kind: str) -> SubmissionFormat:
    values = header[1:]
    if kind and kind != "class-probabilities":
        raise ToolkitError(
            f"submission.kind={kind} needs one value column but {SAMPLE} has {len(values)} "
            f"({preview(values)}); pass --set submission.kind=class-probabilities or fix the "
            "sample."
        )
    not_classes = [c for c in values if c not in names]
    no_column = [c for c in names if c not in values]
    if not_classes or no_column:
        parts = []
        if not_classes:
            parts.append(f"columns that are not classes: {preview(not_classes)}")
        if no_column:
            parts.append(f"classes with no column: {preview(no_column)}")
        raise ToolkitError(
            f"{SAMPLE} has {len(values)} value columns that do not match the train labels "
            f"({'; '.join(parts)}); name one column per class exactly as the train labels "
            "are written (or fix the train labels)."
        )
    order = tuple(names.index(c) for c in values)
    return SubmissionFormat("class-probabilities", tuple(header), class_order=order, source=SAMPLE)


def _from_columns(
    id_column: str, label_column: str, names: list[str], kind: str, k: int, positive: int | None
) -> SubmissionFormat:
    head = (id_column, label_column)
    if kind == "label":
        return SubmissionFormat("label", head, source=FROM_IDS)
    if kind == "probability":
        return _probability(head, names, positive, FROM_IDS)
    if kind == "top-k":
        return _top_k(head, k or DEFAULT_K, FROM_IDS)
    header = (id_column, *names)
    check_header(header, f"the class-probabilities header (id column {id_column!r} + classes)")
    order = tuple(range(len(names)))
    return SubmissionFormat("class-probabilities", header, class_order=order, source=FROM_IDS)


def _probability(
    header: tuple[str, ...], names: list[str], positive: int | None, source: str
) -> SubmissionFormat:
    if len(names) != 2:
        raise ToolkitError(
            f"a probability submission needs exactly 2 classes but the train set has "
            f"{len(names)} ({preview(names)}); pass --set submission.kind=class-probabilities "
            "or label."
        )
    pos = 1 if positive is None else positive
    return SubmissionFormat("probability", header, positive_class=pos, source=source)


def _top_k(header: tuple[str, ...], k: int, source: str) -> SubmissionFormat:
    if k < 1:
        raise ToolkitError(f"submission.k must be at least 1, got {k}; pass --set submission.k=5.")
    return SubmissionFormat("top-k", header, k=k, source=source)


def unit_float(text: str) -> float | None:
    """The number ``text`` holds when it is a finite float in [0, 1], else None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None
