"""``tk tune`` and ``tk study``: run Optuna studies and look at them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from toolkit.cli._common import (
    STORAGE_ENV,
    Column,
    JsonOption,
    Listing,
    QuietOption,
    StorageOption,
    TrialsOption,
    WorkersOption,
    format_interval,
    format_score,
    format_seconds,
    format_versus,
    listing,
    metric_option,
    metric_title,
    parse_duration,
    print_json,
    print_listing,
    seed_option,
    set_option,
    stderr,
    stdout,
    table,
)

study_app = typer.Typer(
    help="List, show and plot tuning studies; write a study file to edit.", no_args_is_help=True
)


def tune_command(
    study_file: Annotated[
        str,
        typer.Argument(
            help="Study TOML file, or a study's name: studies/NAME.toml here, else a shipped "
            "example (compare, finetune, assignment-triplet)."
        ),
    ],
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
        typer.Option(
            "--pruner",
            help="asha, hyperband, median, wilcoxon (k-fold studies) or none (default: the "
            "study's).",
        ),
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
    from toolkit.tune import load_spec, tune, with_fixed
    from toolkit.tune.launch import check_parallelism
    from toolkit.tune.report import storage_text
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
                f": {spec.trials} trials, {workers} worker(s), storage {storage_text(url)}",
            )
        )
    tune(spec, comp_path, storage=url, workers=workers, quiet=quiet)
    if not quiet:
        show_study(spec.name, url, json=False)


STUDIES_COLUMNS = (
    Column("name", "id"),
    Column("trials", "number"),
    Column("complete", "number"),
    Column("pruned", "number", drop=3),
    Column("failed", "number", drop=4),
    Column("running", "number", drop=5),
    Column("metric", drop=2),
    Column("best", "number"),
    Column("storage", min_width=12, drop=6),
)


@study_app.command("list")
def study_list(storage: StorageOption = None, json: JsonOption = False) -> None:
    """List studies: trials by state, metric, best value, storage (parameters: tk study show).

    Names and numbers are never cut: on a narrow terminal the storage is cut with an ellipsis,
    then storage, running, failed, pruned and metric are left out, in that order.
    """
    from toolkit.tune import list_studies

    studies = list_studies(storage)
    if json:
        print_json(studies)
        return
    console = stdout()
    print_listing(studies_listing(studies, console.width), console)


def studies_listing(studies: list[dict[str, Any]], width: int) -> Listing:
    """The table of ``tk study list`` fitted to ``width`` characters."""
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
            s["storage"],
        )
        for s in studies
    ]
    return listing("Studies", STUDIES_COLUMNS, rows, width)


@study_app.command("show")
def study_show(
    name: Annotated[str, typer.Argument(help="Study name.")],
    storage: StorageOption = None,
    json: JsonOption = False,
) -> None:
    """The trials of a study; the best one highlighted."""
    show_study(name, storage, json=json)


@study_app.command("new")
def study_new(
    name: Annotated[str, typer.Argument(help="Name of the new study: writes studies/NAME.toml.")],
    source: Annotated[
        str,
        typer.Option("--from", help="Study to copy: an example's name, a study name or a file."),
    ] = "compare",
) -> None:
    """Write studies/NAME.toml, a copy of an example study to edit (never over a file)."""
    from toolkit.tune.study_files import new_study

    path = new_study(name, source)
    stdout().print(f"wrote {path}", highlight=False)
    stdout().print(f"edit it, then: tk tune {path} COMPETITION", highlight=False)


@study_app.command("plot")
def study_plot(
    name: Annotated[str, typer.Argument(help="Study name.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the PNGs.")] = Path("studies"),
    storage: StorageOption = None,
) -> None:
    """Write the study's optimisation-history, intermediate-values (what the pruner saw) and
    parameter-importance PNGs; a plot that cannot be drawn yet is named with the reason."""
    from toolkit.tune import plot

    plots = plot(name, out, storage)
    for path in plots.files.values():
        stdout().print(f"wrote {path}", highlight=False, soft_wrap=True)
    for kind, why in plots.notes.items():
        stdout().print(f"no {kind} plot: {why}", highlight=False, soft_wrap=True)


def show_study(name: str, storage: str | None, *, json: bool) -> None:
    """Print a study's trials as a table (the best one starred), the best trial's parameters
    and the commands that open the study in Optuna's own tools; or the trials as JSON."""
    from toolkit.tune import trial_rows

    rows = trials_with_noise(trial_rows(name, storage))
    if json:
        print_json(rows)
        return
    console = stdout()
    print_listing(trials_listing(name, rows, console.width), console)
    best = next((r for r in rows if r["best"]), None)
    if best is not None:
        from toolkit.runs.store import short_run_ids
        from toolkit.tune.objective import PIPELINE_PARAM

        run = short_run_ids([best["run_id"]])[best["run_id"]] if best["run_id"] else "none"
        params = [("pipeline", best.get("pipeline") or "")] if best.get("pipeline") else []
        params += [(k, _param(v, 6)) for k, v in best["params"].items() if k != PIPELINE_PARAM]
        title = f"Best trial {best['number']} (run {run})"
        console.print(table(title, ["parameter", "value"], params))
    for line in optuna_commands(name, storage):
        console.print(line, soft_wrap=True, highlight=False)


def trials_with_noise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trial rows with ``val_interval`` (the bootstrap interval of its run's validation
    score) and ``vs_best`` (a paired bootstrap against the best trial's run; ``not
    comparable`` for a run validated on other images), each null when its run (under
    $TOOLKIT_RUNS) has no validation predictions: see :mod:`toolkit.runs.noise`."""
    import contextlib

    from toolkit.errors import ToolkitError
    from toolkit.runs import find_run
    from toolkit.runs.noise import val_interval, versus_best

    found: dict[str, Any] = {}
    for r in rows:
        if r.get("run_id"):
            with contextlib.suppress(ToolkitError, OSError):
                run = find_run(str(r["run_id"]))
                found[str(r["run_id"])] = (run, run.read())
    best = next((found.get(str(r["run_id"])) for r in rows if r["best"]), None)
    versus = versus_best(best, list(found.values())) if best is not None else {}
    out = []
    for r in rows:
        pair = found.get(str(r.get("run_id")))
        out.append(
            {
                **r,
                "val_interval": val_interval(*pair) if pair else None,
                "vs_best": versus.get(pair[0].id) if pair else None,
            }
        )
    return out


def trials_listing(name: str, rows: list[dict[str, Any]], width: int) -> Listing:
    """The trials table of ``tk study show`` fitted to ``width`` characters.

    One column per parameter (named as in the study file), and the pipeline when trials
    differ in it; the 95% bootstrap interval of each trial's validation score and where it
    stands against the best trial (``noise N%``: the best scores better in only N% of
    paired bootstrap resamples of the validation images). Numbers and run ids are never cut:
    on a narrow terminal the pipeline and error texts are cut with an ellipsis, then the
    error, pipeline, parameters (last first), time, interval, state and vs best columns are
    left out, in that order.
    """
    from rich.text import Text

    from toolkit.runs.store import short_run_ids
    from toolkit.tune.objective import PIPELINE_PARAM

    names: list[str] = []
    for r in rows:
        names += [k for k in r["params"] if k not in names and k != PIPELINE_PARAM]
    metric = rows[0].get("metric") if rows else None
    columns = [
        Column("trial", "number"),
        Column("state", "id", drop=3),  # "pruned @eval 3": never cut
        Column(f"val {metric_title(metric)}", "number"),
        Column("val 95% CI", "number", drop=4, hide_empty=True),
        Column("vs best", min_width=7, drop=2, hide_empty=True),
        Column("time", "number", drop=5),
        Column("run", "id"),
        Column("pipeline", min_width=12, drop=10 + len(names)),
        *(Column(n, "number", drop=10 + j) for j, n in enumerate(names)),
        Column("error", min_width=12, drop=11 + len(names), hide_empty=True),
    ]
    several = len({r.get("pipeline") for r in rows}) > 1
    short = short_run_ids([r["run_id"] for r in rows if r["run_id"]])
    body = []
    for r in rows:
        mark = Text("*", style="bold green") if r["best"] else Text("")
        state = r["state"] + (f" @eval {r['pruned_at_eval']}" if r["pruned_at_eval"] else "")
        body.append(
            (
                Text.assemble(mark, str(r["number"])),
                state,
                format_score(r["value"], r.get("metric")),
                format_interval(r.get("val_interval"), r.get("metric")),
                format_versus(r.get("vs_best")),
                format_seconds(r["duration_s"]),
                short.get(r["run_id"], "") if r["run_id"] else "",
                r.get("pipeline") or "",
                *(_param(r["params"].get(n)) for n in names),
                r["error"] or "",
            )
        )
    if not several:  # one pipeline: the best trial's table names it
        columns.pop(7)
        body = [row[:7] + row[8:] for row in body]
    return listing(f"Study {name} (* = best)", columns, body, width)


def optuna_commands(name: str, storage: str | None) -> list[str]:
    """The lines that say where the study is stored and how Optuna's CLI and
    optuna-dashboard open it (a journal as its file path; $TOOLKIT_STORAGE when it came
    from there, so no password is printed)."""
    import os
    import shlex

    from toolkit.tune.report import storage_text
    from toolkit.tune.storage import default_url

    url = storage or default_url(name)
    from_env = storage is not None and storage == os.environ.get(STORAGE_ENV)
    shown = f'"${STORAGE_ENV}"' if from_env else shlex.quote(storage_text(url))
    return [
        f"storage: {storage_text(url)}",
        f"open it with: optuna-dashboard {shown}",
        f"          or: optuna trials --study-name {shlex.quote(name)} --storage {shown}",
    ]


def _param(value: Any, digits: int = 3) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)
