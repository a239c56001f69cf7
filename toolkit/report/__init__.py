"""``tk report``: one self-contained HTML page about a run, a study or a competition.

The page holds the tables (the run's record and settings, per-class accuracy, a study's
trials, the competition's runs and leaderboard) and every picture (curves, confusion matrix,
t-SNE, the study's plots) embedded as base64, so it opens anywhere without a network: share
it with a team or post it for a course.

It reads what the other stages wrote (run folders, studies, submissions) and writes one file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError

__all__ = ["Report", "build_report", "reports_dir", "write_report"]


@dataclass(frozen=True)
class Report:
    """A page and the file name it goes to by default."""

    name: str  # run-<id>.html, study-<name>.html or competition-<name>.html
    html: str


def reports_dir() -> Path:
    """Where reports go by default: ``$TOOLKIT_REPORTS`` or ``./reports``."""
    return Path(os.environ.get("TOOLKIT_REPORTS", "reports")).expanduser()


def build_report(
    *,
    run: str | None = None,
    study: str | None = None,
    competition: str | None = None,
    storage: str | None = None,
) -> Report:
    """The page for exactly one of a run (id, unique prefix or folder), a study or a
    competition (its folder name, as ``tk leaderboard`` shows it)."""
    from toolkit.report._html import page
    from toolkit.report._sections import (
        leaderboard_section,
        run_section,
        runs_section,
        study_section,
    )
    from toolkit.runs.store import find_run, list_runs

    given = (("RUN", run), ("--study", study), ("--competition", competition))
    chosen = [k for k, v in given if v]
    if len(chosen) != 1:
        raise ToolkitError(
            "tk report takes one of RUN, --study NAME or --competition NAME"
            + (f" (got {', '.join(chosen)})." if chosen else ".")
        )
    if run:
        found = find_run(run)
        record = found.read()
        comp = record.get("competition")
        body = [
            run_section(found, heading="Summary"),
            leaderboard_section(comp, highlight={found.id}),
        ]
        return Report(
            f"run-{found.id}.html",
            page(f"Run {found.id}", _subtitle(comp, "one training run"), body),
        )
    if study:
        section, comp = study_section(study, storage)
        return Report(
            f"study-{_safe(study)}.html",
            page(
                f"Study {study}",
                _subtitle(comp, "a tuning study"),
                [section, leaderboard_section(comp)],
            ),
        )
    assert competition is not None
    name = Path(competition).name
    records = [r for r in list_runs() if r.get("competition") == name]
    from toolkit.submit.leaderboard import list_submissions

    if not records and not list_submissions(competition=name):
        raise ToolkitError(
            f"no runs and no submissions for competition '{name}'; 'tk runs' and "
            "'tk leaderboard' show the competitions there are."
        )
    body = [leaderboard_section(name)]
    if records:
        body.append(runs_section(name, records))
        best = _best_run(records)
        if best is not None:
            body.append(run_section(find_run(best["path"]), heading=f"Best run: {best.get('id')}"))
    return Report(
        f"competition-{_safe(name)}.html",
        page(f"Competition {name}", "leaderboard and runs", body),
    )


def write_report(report: Report, out: Path | None = None) -> Path:
    """Write the page atomically to ``out`` (default: the reports folder); its path."""
    from toolkit import io

    path = out if out is not None else reports_dir() / report.name
    if path.is_dir():
        path = path / report.name
    io.write_text(path, report.html)
    return path


def _best_run(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The completed run with the best validation score, in its metric's direction."""
    from toolkit.metrics import get_metric

    done = [
        r
        for r in records
        if r.get("status") == "completed" and (r.get("metrics") or {}).get("val_score") is not None
    ]
    if not done:
        return None

    def key(r: dict[str, Any]) -> float:
        m = r["metrics"]
        try:
            return float(get_metric(m.get("metric") or "accuracy").oriented(m["val_score"]))
        except ToolkitError:
            return float(m["val_score"])

    return max(done, key=key)


def _subtitle(competition: str | None, what: str) -> str:
    return f"{what} on {competition}" if competition else what


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:80]
