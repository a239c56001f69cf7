"""``tk run``, the main job: one competition from data check to scored submission, with the
tables a user wants to see (the library side is :mod:`toolkit.main_job`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli._common import (
    CompetitionArg,
    QuietOption,
    StorageOption,
    TrialsOption,
    WorkersOption,
    budget_option,
    format_score,
    load_competition_arg,
    metric_option,
    metric_title,
    parse_duration,
    stdout,
    table,
)


def main_job_command(
    competition: CompetitionArg = None,
    study: Annotated[
        str,
        typer.Option(
            "--study",
            help="Study file, or a study's name: studies/NAME.toml here, else a shipped "
            "example (default: compare, the comparing study).",
        ),
    ] = "compare",
    trials: TrialsOption = None,
    workers: WorkersOption = 1,
    storage: StorageOption = None,
    metric: Annotated[
        str | None, metric_option("default: the study's, else by the submission's shape")
    ] = None,
    budget: Annotated[
        str | None, budget_option("Wall-clock budget for the whole job (e.g. 10m, 1h).")
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Check the data, tune a small study, submit the best model, score it, show the tables."""
    from toolkit.cli._common import DEFAULT_COMPETITION
    from toolkit.cli.data import render_summary
    from toolkit.cli.submit import leaderboard_command
    from toolkit.cli.tune import show_study
    from toolkit.data import summary
    from toolkit.main_job import removed_on_failure, run_main_job
    from toolkit.train.compose import command_line_settings, compose_config
    from toolkit.train.task import resolve_task
    from toolkit.tune import load_spec
    from toolkit.tune.objective import base_config

    # Everything that can be checked without data is checked before the bundled example is made.
    seconds = parse_duration(budget) if budget is not None else None
    config = base_config(load_spec(study))
    # A failed job removes the bundled competition it made (and data/, if it made that too).
    with removed_on_failure(DEFAULT_COMPETITION if competition is None else Path(competition)):
        comp = load_competition_arg(competition, quiet=quiet, config=config)
        info = summary(comp)
        # The study's metric and the submission's shape, checked before any training.
        task_config = compose_config(base=config, settings=command_line_settings(metric=metric))
        info.update(resolve_task(task_config, comp).record(list(comp.classes)))
        render_summary(info)
        result = run_main_job(
            comp,
            study_file=study,
            trials=trials,
            workers=workers,
            storage=storage,
            quiet=quiet,
            metric=metric,
            budget=seconds,
        )
    show_study(result.study, storage, json=False)
    leaderboard_command(str(comp.root), json=False)
    rows = [
        ("study", result.study),
        ("best run", Path(result.best_run).name),
        ("submission", str(result.submission)),
        ("provenance", str(result.provenance)),
        (
            f"local test {metric_title(result.metric)}",
            "no answer key"
            if result.test_score is None
            else format_score(result.test_score, result.metric),
        ),
    ]
    stdout().print(table("tk run: done", ["", ""], rows))
