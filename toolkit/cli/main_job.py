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
        Path, typer.Option("--study", help="Study file to tune (default: the comparing study).")
    ] = Path("studies") / "compare.toml",
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
    from toolkit.cli.data import render_summary
    from toolkit.cli.submit import leaderboard_command
    from toolkit.cli.tune import show_study
    from toolkit.data import summary
    from toolkit.main_job import run_main_job
    from toolkit.train.compose import command_line_settings, compose_config
    from toolkit.train.task import resolve_task
    from toolkit.tune import load_spec
    from toolkit.tune.objective import base_config

    seconds = parse_duration(budget) if budget is not None else None
    spec = load_spec(study) if Path(study).is_file() else None
    config = base_config(spec) if spec is not None else None
    comp = load_competition_arg(competition, quiet=quiet, config=config)
    info = summary(comp)
    if config is not None:  # the study's metric and the submission's shape, checked early
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
