"""``tk tune`` and ``tk study``: run Optuna studies and look at them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from toolkit.cli._common import (
    JsonOption,
    QuietOption,
    StorageOption,
    TrialsOption,
    WorkersOption,
    format_score,
    format_seconds,
    metric_option,
    metric_title,
    parse_duration,
    print_json,
    seed_option,
    set_option,
    stderr,
    stdout,
    table,
)

study_app = typer.Typer(help="List, show and plot tuning studies.", no_args_is_help=True)


def tune_command(
    study_file: Annotated[Path, typer.Argument(help="Study TOML file (see studies/).")],
    competition: Annotated[
        str | None, typer.Argument(help="Competition folder (default: the study's).")
    ] = None,
    trials: TrialsOption = None,
    timeout: Annotated[
        str | None, typer.Option("--timeout", help="Stop starting trials after this (10m).")
    ] = None,
    workers: WorkersOption = 1,
    storage: StorageOption = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Study name (default: the file's).")
    ] = None,
    pruner: Annotated[
        str | None,
        typer.Option("--pruner", help="asha, hyperband, median or none (default: the study's)."),
    ] = None,
    seed: Annotated[int | None, seed_option("Sampler seed (default: the study's).")] = None,
    metric: Annotated[
        str | None, metric_option("default: the study's, else by the submission's shape")
    ] = None,
    settings: Annotated[
        list[str] | None,
        set_option(
            "key=value added to the study's \\[fixed] settings (every trial), "
            "e.g. data.image_size=96."
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Tune a study: each trial trains a run; rerun the same command to resume."""
    from toolkit.cli._common import load_competition_arg
    from toolkit.train.compose import command_line_settings
    from toolkit.train.torchrun import launched_by_torchrun
    from toolkit.tune import load_spec, redact, tune, with_fixed
    from toolkit.tune.launch import check_parallelism
    from toolkit.tune.storage import default_url

    check_parallelism(workers)  # before any work: one kind of parallelism per command
    if launched_by_torchrun():  # each trial trains on every process; only rank 0 speaks
        from toolkit.train.distributed import World

        quiet = quiet or not World.from_env().is_main
    overrides: dict[str, Any] = {
        "trials": trials,
        "name": name,
        "pruner": pruner,
        "seed": seed,
        "metric": metric,
        "timeout": None if timeout is None else parse_duration(timeout),
    }
    spec = load_spec(study_file, overrides=overrides)
    if settings:
        spec = with_fixed(spec, command_line_settings(settings))
    comp_path = competition or spec.competition
    if comp_path is None:
        comp_path = str(load_competition_arg(None, quiet=quiet).root)
    url = storage or default_url(spec.name)
    if not quiet:
        from rich.text import Text

        stderr().print(
            Text.assemble(
                "study ",
                (spec.name, "bold"),
                f": {spec.trials} trials, {workers} worker(s), storage {redact(url)}",
            )
        )
    tune(spec, comp_path, storage=url, workers=workers, quiet=quiet)
    if not quiet:
        show_study(spec.name, url, json=False)


@study_app.command("list")
def study_list(storage: StorageOption = None, json: JsonOption = False) -> None:
    """List studies: trials by state, best value and parameters."""
    from toolkit.tune import list_studies

    studies = list_studies(storage)
    if json:
        print_json(studies)
        return
    rows = [
        (
            s["name"],
            s["trials"],
            s.get("complete"),
            s.get("pruned"),
            s.get("fail"),
            s.get("running"),
            metric_title(s.get("metric")),
            format_score(s["best_value"], s.get("metric")),
            _params(s["best_params"]),
            s["storage"],
        )
        for s in studies
    ]
    stdout().print(
        table(
            "Studies",
            [
                "name",
                "trials",
                "complete",
                "pruned",
                "failed",
                "running",
                "metric",
                "best value",
                "best params",
                "storage",
            ],
            rows,
        )
    )


@study_app.command("show")
def study_show(
    name: Annotated[str, typer.Argument(help="Study name.")],
    storage: StorageOption = None,
    json: JsonOption = False,
) -> None:
    """The trials of a study; the best one highlighted."""
    show_study(name, storage, json=json)


@study_app.command("plot")
def study_plot(
    name: Annotated[str, typer.Argument(help="Study name.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the PNGs.")] = Path("studies"),
    storage: StorageOption = None,
) -> None:
    """Write optimisation-history and parameter-importance PNGs."""
    from toolkit.tune import plot

    for path in plot(name, out, storage):
        stdout().print(f"wrote {path}")


def show_study(name: str, storage: str | None, *, json: bool) -> None:
    """Print a study's trials as a table (the best one starred), or as JSON."""
    from rich.text import Text

    from toolkit.tune import trial_rows

    rows = trial_rows(name, storage)
    if json:
        print_json(rows)
        return
    body = []
    for r in rows:
        mark = Text("*", style="bold green") if r["best"] else Text("")
        state = r["state"] + (f" @eval {r['pruned_at_eval']}" if r["pruned_at_eval"] else "")
        body.append(
            (
                Text.assemble(mark, str(r["number"])),
                state,
                _params(r["params"]),
                format_score(r["value"], r.get("metric")),
                format_seconds(r["duration_s"]),
                r["run_id"] or "",
                r["error"] or "",
            )
        )
    metric = rows[0].get("metric") if rows else None
    stdout().print(
        table(
            f"Study {name} (* = best)",
            ["trial", "state", "params", f"val {metric_title(metric)}", "time", "run", "error"],
            body,
        )
    )


def _params(params: dict[str, Any]) -> str:
    return " ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )
