"""``tk run``: the whole job on one competition, with the tables a user wants to see."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli._common import (
    CompetitionArg,
    QuietOption,
    format_score,
    load_competition_arg,
    metric_option,
    metric_title,
    parse_duration,
    stdout,
    table,
)


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
    metric: str | None = metric_option("default: the study's, else by the submission's shape"),
    budget: Annotated[
        str | None,
        typer.Option("--budget", help="Wall-clock budget for the whole job (e.g. 10m, 1h)."),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Check the data, tune a small study, submit the best model, score it, show the tables."""
    from toolkit.cli.data import render_summary
    from toolkit.cli.submit import leaderboard_command
    from toolkit.cli.tune import _show
    from toolkit.data import summary
    from toolkit.main_job import run_main_job
    from toolkit.train.task import resolve_task
    from toolkit.tune import load_spec
    from toolkit.tune.objective import base_config

    seconds = parse_duration(budget) if budget is not None else None
    spec = load_spec(study) if Path(study).is_file() else None
    config = base_config(spec) if spec is not None else None
    comp = load_competition_arg(competition, quiet=quiet, config=config)
    info = summary(comp)
    if config is not None:  # the study's metric and the submission's shape, checked early
        import dataclasses

        task_config = dataclasses.replace(config, metric=metric or config.metric)
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
    _show(result.study, storage, json=False)
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
