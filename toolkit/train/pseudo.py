"""Pseudo-labelling: confident predictions on the test set as extra training images.

``pseudo_labels`` names a source that predicted this competition's test set and
``pseudo_threshold`` how sure it must be: the test images whose top probability is at least
the threshold join the run's train split, labelled with their most probable class.
:func:`toolkit.train.parts.load_splits` appends them to the train split only. The validation
split is exactly the one the run has without them, so runs with and without pseudo-labels are
scored on the same images and compare (``tk runs``: vs best); a pseudo-labelled image never
enters a validation or out-of-fold score. Zero images passing the threshold is no error: the
run trains as it would without pseudo-labels and its record says ``images: 0``.

The labels are hard (one class per image). Soft targets (the source's probability vector)
would need every loss plugin to accept probabilities instead of class indices, which the loss
contract does not ask of them.

Sources (:func:`pseudo_labels` tells them apart):

- a run: its id, a unique prefix or short id of it (under ``$TOOLKIT_RUNS`` or ``./runs``), or
  its folder; a cross-validation (``tk train --folds K``) gives its folds' average. Its
  ``test_probs.npy`` holds one row per test image in the competition's test order. The run
  must have been trained on the same files (its data fingerprint; a run at another image size
  is checked by reloading the competition at its size, from the cache when it is still there)
  and on the same class list as this run (``data.classes``).
- a submission CSV: a path ending ``.csv``. Its rows are matched to the test ids by its first
  column, and its value cells are read by the competition's submission shape (the
  ``submission.*`` settings, else its ``sample_submission.csv``): ``label`` is a one-hot row,
  so its confidence is 1 and every row passes any threshold; ``top-k`` is its first label,
  one-hot; ``probability`` (two classes) is [1 - p, p] with p the positive class's; a header of
  one column per class is read as ``class-probabilities`` whatever the sample says. Rows
  labelled with a class this run does not train on (a ``data.classes`` subset) are dropped and
  the rest renumbered.

A caution on folds: a source that trained on this run's validation images (a refit, or a run
of another split or fold) passes what it learnt of them on through its labels, which flatters
the validation score a little. A source run with the same split (seed, ``val_fraction``,
``folds``/``fold``) never saw them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.data import Competition
    from toolkit.runs.store import RunDir
    from toolkit.train.config import TrainConfig

TEST_PROBS = "test_probs.npy"  # written by toolkit.runs.artifacts in the test order


@dataclass(frozen=True)
class PseudoLabels:
    """The test images a source labelled confidently, ready to join a train split."""

    x: np.ndarray  # (N, C, H, W) uint8: test images at this run's image size
    y: np.ndarray  # (N,) int64 indices into this run's classes
    index: np.ndarray  # (N,) int64 rows of the competition's test set they are
    source: str  # the run's id, or the CSV's absolute path
    path: str  # the run's folder, or the CSV's absolute path
    kind: str  # "run" | "submission"
    threshold: float  # the top probability each kept image reached at least
    of: int  # test images the source predicted
    classes: tuple[str, ...]  # this run's classes, as text

    def record(self) -> dict[str, Any]:
        """What run.json keeps of them (JSON-ready)."""
        counts = np.bincount(self.y, minlength=len(self.classes))  # (K,)
        return {
            "source": self.source,
            "kind": self.kind,
            "path": self.path,
            "threshold": self.threshold,
            "images": len(self.y),
            "of": self.of,
            "per_class": {c: int(n) for c, n in zip(self.classes, counts.tolist(), strict=True)},
        }


@dataclass(frozen=True)
class _Selection:
    """Which test rows are kept and their labels; no image touched yet."""

    index: np.ndarray  # (N,) int64 test rows
    y: np.ndarray  # (N,) int64 indices into this run's classes
    source: str
    path: str
    kind: str
    of: int
    classes: tuple[str, ...]


def pseudo_labels(config: TrainConfig, competition: Competition) -> PseudoLabels | None:
    """The pseudo-labelled test images ``config`` asks for (``None`` when it asks for none).

    ``competition`` is the one loaded for this run (its ``x_test`` at the run's image size).
    Raises :class:`ToolkitError` for a source that is not a run or an existing CSV, or one
    that does not fit this run (other data, other classes, other test ids).
    """
    chosen = _select(config, competition)
    if chosen is None:
        return None
    x = np.ascontiguousarray(competition.x_test[chosen.index])  # (N, C, H, W)
    return PseudoLabels(
        x=x,
        y=chosen.y,
        index=chosen.index,
        source=chosen.source,
        path=chosen.path,
        kind=chosen.kind,
        threshold=float(config.pseudo_threshold),
        of=chosen.of,
        classes=chosen.classes,
    )


def pseudo_count(config: TrainConfig, competition: Competition) -> int:
    """How many test images :func:`pseudo_labels` adds (their labels only: no image read)."""
    chosen = _select(config, competition)
    return 0 if chosen is None else len(chosen.y)


def _select(config: TrainConfig, comp: Competition) -> _Selection | None:
    source = config.pseudo_labels.strip()
    if not source:
        return None
    from toolkit.data import class_subset

    _, _, run_classes = class_subset(comp, config.classes)
    classes = [str(c) for c in run_classes]
    path = Path(source).expanduser()
    if path.suffix.lower() == ".csv":
        if not path.is_file():
            raise ToolkitError(
                f"pseudo_labels={source}: no such submission CSV; pass the path of a "
                "submission that predicted this competition's test set, or a run."
            )
        probs, names = _read_submission(path, config, comp)  # (M, K) over the competition's
        kind, name, where = "submission", str(path.resolve()), str(path.resolve())
    else:
        run = _find_run(source)
        probs = _run_probabilities(run, comp, classes)  # (M, K) over this run's classes
        names, kind, name, where = classes, "run", run.id, str(run.path.resolve())
    top = probs.max(axis=1) if len(probs) else np.zeros(0, dtype=probs.dtype)  # (M,)
    label = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)  # (M,)
    lookup = {c: i for i, c in enumerate(classes)}
    renumber = np.array([lookup.get(c, -1) for c in names], dtype=np.int64)  # (K_source,)
    mapped = renumber[label]  # (M,) -1: a class this run does not train on
    keep = np.flatnonzero((top >= config.pseudo_threshold) & (mapped >= 0)).astype(np.int64)
    return _Selection(keep, mapped[keep], name, where, kind, len(probs), tuple(classes))


def _find_run(source: str) -> RunDir:
    from toolkit.runs.store import find_run

    try:
        return find_run(source)
    except ToolkitError as err:
        why = str(err).rstrip(".")
        raise ToolkitError(
            f"pseudo_labels={source} is neither a run ({why}) nor a submission CSV; pass a run "
            "id (or a unique prefix or short id of one), a run folder, or the path of a .csv "
            "submission that predicted this competition's test set."
        ) from None


def _run_probabilities(run: RunDir, comp: Competition, classes: list[str]) -> np.ndarray:
    """The run's test probabilities (M, K), checked to be this competition's test rows and
    this run's classes."""
    from toolkit.runs import cv
    from toolkit.runs.checkpoint import read_meta

    record = run.read()
    _check_data(run, record, comp)
    described = cv.fold_runs(run, record)[0] if cv.is_group(record) else run  # a k-fold's folds
    theirs = [str(c) for c in read_meta(described).get("classes") or []]
    if theirs != classes:
        raise ToolkitError(
            f"pseudo_labels: run {run.id} predicts {len(theirs)} classes ({_few(theirs)}) but "
            f"this run trains on {len(classes)} ({_few(classes)}); use a source run with the "
            "same classes (data.classes), or a submission CSV."
        )
    path = run.file(TEST_PROBS)
    if not path.is_file():
        raise ToolkitError(
            f"pseudo_labels: run {run.id} has no {TEST_PROBS} (status: {record.get('status')}); "
            "pseudo-label from a completed run."
        )
    try:
        probs = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ToolkitError(
            f"pseudo_labels: cannot read {path} ({err}); retrain run {run.id}."
        ) from None
    want = (len(comp.test_ids), len(classes))
    if probs.ndim != 2 or probs.shape != want:
        raise ToolkitError(
            f"pseudo_labels: {path} holds an array of shape {probs.shape}, not {want} (test "
            f"images, classes); retrain run {run.id}."
        )
    return np.asarray(probs, dtype=np.float32)


def _check_data(run: RunDir, record: dict[str, Any], comp: Competition) -> None:
    """Refuse a run trained on other files: its probabilities' rows would be other images.

    The fingerprint covers the image-size request too, so a run at another image size is
    checked against the competition reloaded at that size (from the cache when it is there).
    """
    recorded = record.get("data_fingerprint")
    if recorded == comp.fingerprint:
        return
    policy = record.get("image_policy")
    policy = policy if isinstance(policy, dict) else {}
    request = (policy.get("requested"), policy.get("resize"))
    ours = (comp.image_policy.get("requested"), comp.image_policy.get("resize"))
    if recorded and policy and request != ours:
        from toolkit.data import load_competition

        try:
            other = load_competition(
                comp.root, image_size=int(request[0] or 0), resize=str(request[1] or "crop")
            )
        except (ToolkitError, TypeError, ValueError):
            other = None
        if (
            other is not None
            and other.fingerprint == recorded
            and [str(t) for t in other.test_ids] == [str(t) for t in comp.test_ids]
        ):
            return
    raise ToolkitError(
        f"pseudo_labels: run {run.id} was trained on other data than {comp.name} as it is now "
        f"(data fingerprint {str(recorded)[:12]}, now {comp.fingerprint[:12]}), so its test "
        "predictions may not be these test images; pseudo-label from a run trained on these "
        "files (or retrain the source run)."
    )


def _read_submission(
    path: Path, config: TrainConfig, comp: Competition
) -> tuple[np.ndarray, list[str]]:
    """(probabilities (M, K) in the competition's test order, the competition's classes as
    text) of a submission CSV; see the module docstring for how each shape is read."""
    from toolkit.data import submission_format
    from toolkit.data._submission import unit_float

    names = [str(c) for c in comp.classes]
    header, rows = _read_csv(path)
    values = header[1:]
    if len(values) > 1:
        kind, positive = "class-probabilities", 0
        strays = [c for c in values if c not in names]
        absent = [c for c in names if c not in values]
        if strays or absent:
            raise ToolkitError(
                f"pseudo_labels: {path.name} has several value columns, read as one per class, "
                f"but {f'{_few(strays)} are not classes' if strays else ''}"
                f"{'; ' if strays and absent else ''}"
                f"{f'no column for {_few(absent)}' if absent else ''}; name one column per "
                "class as the train labels are written."
            )
        columns = [names.index(c) for c in values]
    else:
        fmt = submission_format(
            comp,
            kind=config.submission_kind,
            k=config.submission_k,
            positive_class=config.submission_positive_class,
        )
        kind, positive, columns = fmt.kind, fmt.positive_class or 0, []
        if kind == "class-probabilities":
            raise ToolkitError(
                f"pseudo_labels: {path.name} has one value column ({values[0]!r}) but this "
                "competition's submissions hold one probability column per class; pass a "
                "submission with one column per class, or --set submission.kind=label."
            )
    test = [str(t) for t in comp.test_ids]
    missing = [t for t in test if t not in rows]
    known = set(test)
    strangers = [t for t in rows if t not in known]
    if missing or strangers:
        raise ToolkitError(
            f"pseudo_labels: {path.name} does not predict this competition's test set "
            f"({len(missing)} test ids have no row, e.g. {_few(missing) or 'none'}; "
            f"{len(strangers)} rows are not test ids, e.g. {_few(strangers) or 'none'}); pass a "
            f"submission made for {comp.name}."
        )
    index = {c: i for i, c in enumerate(names)}
    probs = np.zeros((len(test), len(names)), dtype=np.float32)  # (M, K)
    for i, t in enumerate(test):
        cells, line = rows[t]
        if kind == "class-probabilities":
            numbers = [unit_float(c.strip()) for c in cells]
            if any(p is None for p in numbers):
                bad = next(c for c, p in zip(cells, numbers, strict=True) if p is None)
                raise _cell_error(path, line, bad, "a probability in [0, 1]")
            probs[i, columns] = numbers
        elif kind == "probability":
            p = unit_float(cells[0].strip())
            if p is None:
                raise _cell_error(path, line, cells[0], "a probability in [0, 1]")
            probs[i, positive], probs[i, 1 - positive] = p, 1.0 - p
        else:  # label, top-k: the (first) label, with confidence 1
            tokens = cells[0].split()
            first = tokens[0] if tokens else ""
            if first not in index:
                raise _cell_error(path, line, cells[0], f"a class ({_few(names)})")
            probs[i, index[first]] = 1.0
    return probs, names


def _read_csv(path: Path) -> tuple[list[str], dict[str, tuple[list[str], int]]]:
    """(header, {id: (value cells, line)}) of a CSV, every cell as text."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, strict=True)
            header = next(reader, None) or []
            if len(header) < 2:
                raise ToolkitError(
                    f"pseudo_labels: {path.name} needs an id column and at least one value "
                    f"column (header: {','.join(header)!r})."
                )
            rows: dict[str, tuple[list[str], int]] = {}
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise ToolkitError(
                        f"pseudo_labels: {path.name} line {reader.line_num} has {len(row)} "
                        f"fields but its header has {len(header)}; fix the file."
                    )
                if row[0] in rows:
                    raise ToolkitError(
                        f"pseudo_labels: {path.name} line {reader.line_num} repeats id "
                        f"{row[0]!r}; each test id must appear once."
                    )
                rows[row[0]] = (row[1:], reader.line_num)
    except UnicodeDecodeError:
        raise ToolkitError(f"{path} is not UTF-8 text; re-save it as a UTF-8 CSV.") from None
    except (OSError, csv.Error) as err:
        raise ToolkitError(f"cannot read {path} as CSV ({err}); fix the file.") from None
    return header, rows


def _cell_error(path: Path, line: int, cell: str, want: str) -> ToolkitError:
    return ToolkitError(
        f"pseudo_labels: {path.name} line {line} holds {cell!r} where {want} is expected; "
        "pass a submission made for this competition."
    )


def _few(items: list[str]) -> str:
    from toolkit.data._tables import preview

    return preview(items)
