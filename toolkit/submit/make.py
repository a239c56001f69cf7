"""``make_submission``: runs -> test predictions -> validated CSV + provenance JSON.

1. read the runs' records and checkpoint descriptions; pick the competition (the first run's
   ``competition_path`` unless one is given); refuse other class lists, warn on a changed
   fingerprint
2. choose the file names and refuse existing ones, before any prediction
3. predict the test set (mean over runs, optional TTA)
4. write the CSV (validated first, atomic) and the provenance JSON beside it
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.submit import paths, provenance
from toolkit.submit.leaderboard import short_run_id
from toolkit.submit.predict import TTA, check_members, predict_members, read_members
from toolkit.submit.validate import expected_format
from toolkit.submit.write import ensure_new, write_submission

if TYPE_CHECKING:
    from toolkit.data import Competition


@dataclass(frozen=True)
class SubmissionResult:
    """The files a submission made and what its provenance JSON says."""

    csv_path: Path
    json_path: Path
    provenance: dict[str, Any]


def make_submission(
    runs: str | Sequence[str],
    competition: Competition | str | Path | None = None,
    *,
    tta: TTA | None = None,
    name: str | None = None,
    root: Path | None = None,
    study: str | None = None,
    storage: str | None = None,
    slug: str | None = None,
    device: str = "auto",
) -> SubmissionResult:
    """Predict the test set with ``runs`` (ids, prefixes or folders; several are averaged).

    ``competition`` defaults to the first run's ``competition_path``. Files go to
    ``<root>/<competition>/<timestamp>-<name>.csv`` (``root`` defaults to
    :func:`~toolkit.submit.paths.submissions_root`) with a provenance JSON beside it; an existing
    file is never overwritten. ``study``/``storage`` are recorded when the runs come from one.
    """
    run_ids = [runs] if isinstance(runs, str) else list(runs)
    members = read_members(run_ids)
    comp = _competition(competition, members[0].record)
    warnings = check_members(members, comp)
    for text in warnings:
        print(f"warning: {text}", file=sys.stderr)
    expected = expected_format(comp)
    id_rows = _id_rows(comp, expected.id_texts)  # (M,) row of x_test for each id to write

    default = f"study-{study}" if study else short_run_id(members[0].run.id)
    if len(members) > 1:
        default += f"-top{len(members)}" if study else f"-mean{len(members)}"
    csv_path, json_path = paths.submission_paths(comp.name, name or default, root)
    ensure_new(csv_path, json_path)

    probs = predict_members(members, comp.x_test, tta, device)  # (M, K)
    pred = probs.argmax(axis=1)  # (M,) indices into comp.classes
    names = [str(c) for c in comp.classes]  # one string per class, shared by the rows
    labels = [names[int(pred[r])] for r in id_rows]
    digest = write_submission(csv_path, expected.id_texts, labels, expected)

    score = None
    if comp.y_test is not None:
        score = round(float(np.mean(pred == np.asarray(comp.y_test))), 6)
    record = provenance.build(
        runs=[provenance.run_entry(m.run.path, m.record, m.meta) for m in members],
        study=study,
        storage=storage,
        competition=comp,
        slug=slug or comp.name,
        csv_path=csv_path,
        csv_sha256=digest,
        rows=len(labels),
        local_test_score=score,
        tta=tta.to_dict() if tta else None,
        warnings=warnings,
    )
    from toolkit import io

    io.write_json(json_path, record)
    return SubmissionResult(csv_path, json_path, record)


def study_runs(study: str, storage: str | None = None, k: int = 1) -> list[str]:
    """Run folders of the ``k`` best completed trials of an Optuna study, best first."""
    if k < 1:
        raise ToolkitError(f"--top-k must be at least 1, got {k}.")
    try:
        from toolkit.tune import top_runs
    except ImportError as err:
        raise ToolkitError(f"studies are not available in this install ({err}).") from None
    found = list(top_runs(study, storage, k))
    if not found:
        raise ToolkitError(
            f"study {study!r} has no completed trials with a run folder; let it run longer."
        )
    return [str(p) for p in found]


def _competition(given: Competition | str | Path | None, record: dict[str, Any]) -> Competition:
    from toolkit.data import Competition, load_competition

    if isinstance(given, Competition):
        return given
    if given is None:
        given = record.get("competition_path")
        if not given:
            raise ToolkitError(
                f"run {record.get('id')} does not record its competition folder; pass "
                "--competition PATH."
            )
        if not Path(given).exists():
            raise ToolkitError(
                f"the run's competition folder {given} no longer exists; pass --competition PATH."
            )
    return load_competition(given)


def _id_rows(comp: Competition, id_texts: Sequence[str]) -> list[int]:
    """Row of ``comp.x_test`` for each id the submission writes (sample order)."""
    row_of = {str(t): i for i, t in enumerate(comp.test_ids)}
    missing = [t for t in id_texts if t not in row_of]
    if missing or len(id_texts) != len(row_of):
        raise ToolkitError(
            f"the ids of {comp.root} do not match its test images (e.g. {missing[:1]}); "
            "reload it with 'tk data check --refresh'."
        )
    return [row_of[t] for t in id_texts]
