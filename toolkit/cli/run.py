"""``tk run``: the whole job on one competition, with the tables a user wants to see."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli._common import CompetitionArg, QuietOption, load_competition_arg, stdout, table


def run_command(
    competition: CompetitionArg = None,
    study: Annotated[
        Path, typer.Option("--study", help="Study file to tune (default: the comparing study).")
    ] = Path("studies") / "compare.toml",
    trials: Annotated[
        int | None, typer.Option("--trials", "-n", help="Trials (default: the study's).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", help="Worker processes.")] = 1,
    storage: Annotated[
        str | None, typer.Option("--storage", help="Optuna storage URL (default: a journal).")
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Check the data, tune a small study, submit the best model, score it, show the tables."""
    from toolkit.cli.data import render_summary
    from toolkit.cli.submit import leaderboard_command
    from toolkit.cli.tune import _show
    from toolkit.main_job import run_main_job

    comp = load_competition_arg(competition, quiet=quiet)
    from toolkit.data import summary

    render_summary(summary(comp))
    result = run_main_job(
        comp, study_file=study, trials=trials, workers=workers, storage=storage, quiet=quiet
    )
    _show(result.study, storage, json=False)
    leaderboard_command(str(comp.root), json=False)
    rows = [
        ("study", result.study),
        ("best run", Path(result.best_run).name),
        ("submission", str(result.submission)),
        ("provenance", str(result.provenance)),
        (
            "local test accuracy",
            "no answer key" if result.test_score is None else f"{100 * result.test_score:.2f}%",
        ),
    ]
    stdout().print(table("tk run: done", ["", ""], rows))
