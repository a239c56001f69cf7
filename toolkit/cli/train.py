"""``tk train`` and ``tk runs``: one experiment, and the table of all of them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from toolkit.cli._common import (
    Column,
    CompetitionArg,
    EncoderOption,
    HeadOption,
    JsonOption,
    Listing,
    LossOption,
    QuietOption,
    budget_option,
    format_interval,
    format_score,
    format_seconds,
    format_versus,
    listing,
    load_competition_arg,
    metric_option,
    metric_title,
    print_json,
    print_listing,
    set_option,
    stderr,
    stdout,
    table,
)

if TYPE_CHECKING:
    from rich.console import Console

runs_app = typer.Typer(invoke_without_command=True)  # help: runs_list's docstring


def train_command(
    competition: CompetitionArg = None,
    encoder: EncoderOption = None,
    loss: LossOption = None,
    head: HeadOption = None,
    recipe: Annotated[
        str | None,
        typer.Option(
            "--recipe",
            "-r",
            help="A measured recipe (plugins + settings) to start from: fastnet-finetune, "
            "fastnet-supcon-probe. --encoder/--loss/--head/--set still override it.",
        ),
    ] = None,
    settings: Annotated[
        list[str] | None,
        set_option(
            "key=value: a training field (lr=0.01, epochs=5), a data or submission setting "
            "(data.image_size=96, data.resize=pad, submission.kind=probability) or a plugin "
            "parameter (encoder.embedding_dim=64, loss.margin=0.5, head.dropout=0.1)."
        ),
    ] = None,
    metric: Annotated[str | None, metric_option("default: by the submission's shape")] = None,
    budget: Annotated[
        str | None,
        budget_option(
            "Wall-clock budget (e.g. 90s, 10m, 1h); the schedule is shaped to end with it."
        ),
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option(
            "--folds",
            min=2,
            help="k-fold cross-validation: K models on stratified folds, their out-of-fold "
            "predictions (oof_probs.npy) and a submission averaging them; a --budget is shared.",
        ),
    ] = None,
    pseudo_labels: Annotated[
        str | None,
        typer.Option(
            "--pseudo-labels",
            help="Add confident test predictions of this run (id or folder) or submission CSV "
            "to the training images (never to validation).",
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            help="With --pseudo-labels: the smallest top probability kept (default 0.9).",
        ),
    ] = None,
    quiet: QuietOption = False,
    json: JsonOption = False,
) -> None:
    """Train one model (encoder + loss + head) on a competition and save a run folder; with
    --folds K, K models (one per fold) in one cross-validation folder."""
    started = time.perf_counter()  # a --budget counts from here: loading the images is in it
    from toolkit.errors import ToolkitError
    from toolkit.train import train
    from toolkit.train.compose import command_line_settings, compose_config
    from toolkit.train.distributed import World

    main_rank = World.from_env().is_main  # under torchrun only rank 0 speaks
    quiet = quiet or not main_rank
    flags = command_line_settings(settings or [], budget=budget, metric=metric)
    if threshold is not None and pseudo_labels is None and "pseudo_labels" not in flags:
        raise ToolkitError("--threshold goes with --pseudo-labels RUN_OR_CSV.")
    for key, value in (
        ("folds", folds),
        ("pseudo_labels", pseudo_labels),
        ("pseudo_threshold", threshold),
    ):
        if value is not None:
            flags[key] = value
    config = compose_config(recipe=recipe, encoder=encoder, loss=loss, head=head, settings=flags)
    comp = load_competition_arg(competition, quiet=quiet, config=config)
    extra = {"recipe": recipe} if recipe else None
    if config.folds >= 2:
        if World.from_env().distributed:
            raise ToolkitError("--folds trains one process per fold; run it without torchrun.")
        from toolkit.train.kfold import train_folds

        result = train_folds(config, comp, quiet=quiet, extra=extra, started=started)
    else:
        result = train(config, comp, quiet=quiet, extra=extra, started=started)
    if not main_rank:
        return
    if json:
        print_json({"run_id": result.run_id, "path": str(result.path), **result.metrics})
        return
    console = stdout()
    print_run_header(result.run_id, result.status, result.path, console)
    title = f"Run finished: {result.status}"
    if config.folds >= 2:
        title = f"Cross-validation ({config.folds} folds) finished: {result.status}"
    console.print(table(title, ["", ""], _metric_rows(result.metrics)))


RUNS_COLUMNS = (
    Column("id", "id"),  # the short id (tk runs show ID takes it)
    Column("competition", drop=5),
    Column("plugins", min_width=12, drop=6),  # encoder/loss/head
    Column("metric", drop=4),
    Column("val", "number"),
    Column("val 95% CI", "number", drop=3, hide_empty=True),  # bootstrap over the val images
    Column("vs best", min_width=7, drop=1, hide_empty=True),  # paired bootstrap, same split
    Column("test", "number", drop=7),
    Column("status", drop=2),
    Column("time", "number", drop=8),
)


@runs_app.callback()
def runs_list(ctx: typer.Context, json: JsonOption = False) -> None:
    """List runs, newest first: short id, competition, plugins, val score with its 95%
    bootstrap interval, vs best, test score, status, time.

    vs best compares each run with the best run validated on the same images (same data,
    val_fraction, seed and classes): noise N% / worse N% is how often the best scores better
    over paired bootstrap resamples of the validation images (under 95%: within noise).
    Ids and numbers are never cut: when the terminal is narrow, the competition and plugin
    names are cut with an ellipsis, then time, test, plugins, competition, metric, the
    interval, status and vs best are left out, in that order. Each run's parameters: tk runs
    show ID.
    """
    if ctx.invoked_subcommand is not None:
        return
    from toolkit.runs import list_runs

    records = with_noise(list_runs())
    if json:
        print_json(records)
        return
    console = stdout()
    print_listing(runs_listing(records, console.width), console)
    if not records:
        stderr().print("no runs yet: try 'tk train' (runs are kept in ./runs or $TOOLKIT_RUNS)")


def with_noise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records with ``val_interval`` (the bootstrap interval of the validation score, null
    without validation images) and ``vs_best`` (against the best run of the same validation
    split, null when it has no other run): see :mod:`toolkit.runs.noise`."""
    from pathlib import Path

    from toolkit.runs.noise import best_per_split, val_interval
    from toolkit.runs.store import RunDir

    versus = best_per_split(records)
    out = []
    for r in records:
        interval = val_interval(RunDir(Path(str(r["path"]))), r) if r.get("path") else None
        out.append({**r, "val_interval": interval, "vs_best": versus.get(str(r.get("id")))})
    return out


def runs_listing(records: list[dict[str, Any]], width: int) -> Listing:
    """The table of ``tk runs`` fitted to ``width`` characters."""
    from toolkit.runs.store import short_run_ids

    short = short_run_ids([str(r.get("id")) for r in records])
    rows = []
    for r in records:
        cfg, m = r.get("config", {}), r.get("metrics") or {}
        rows.append(
            (
                short[str(r.get("id"))],
                r.get("competition"),
                f"{cfg.get('encoder')}/{cfg.get('loss')}/{cfg.get('head')}"
                + (f" ({cfg.get('folds')} folds)" if r.get("kind") == "cv" else ""),
                metric_title(m.get("metric")),
                format_score(m.get("val_score", m.get("val_acc")), m.get("metric")),
                format_interval(r.get("val_interval"), m.get("metric")),
                format_versus(r.get("vs_best")),
                format_score(m.get("test_score", m.get("test_acc")), m.get("metric")),
                r.get("status"),
                format_seconds(r.get("duration_s")),
            )
        )
    return listing(f"Runs ({len(rows)})", RUNS_COLUMNS, rows, width)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    json: JsonOption = False,
) -> None:
    """One run's details and artifact paths."""
    from toolkit.runs import find_run

    run = find_run(run_id)
    record = run.read()
    files = sorted(p.name for p in run.path.iterdir() if not p.name.startswith("."))
    if json:
        print_json({**record, "path": str(run.path), "files": files})
        return
    console = stdout()
    print_run_header(run.id, record.get("status"), run.path, console)
    console.print(table("Config", ["setting", "value"], config_rows(record.get("config", {}))))
    metrics = record.get("metrics") or {}
    mrows = _metric_rows(metrics)
    per_class = metrics.get("per_class_val_acc") or {}
    mrows += [(f"val acc [{c}]", format_score(v, "accuracy")) for c, v in per_class.items()]
    console.print(table("Metrics", ["metric", "value"], mrows))
    console.print(table("Artifacts (in the run's folder)", ["file"], [(f,) for f in files]))


def print_run_header(run_id: str, status: Any, path: Any, console: Console) -> None:
    """The run's id (and short id), status and folder, each line whole (never folded)."""
    from pathlib import Path

    from rich.text import Text

    from toolkit.runs.store import runs_root, short_run_ids

    in_root = Path(path).parent.resolve() == runs_root().resolve()  # where short ids resolve
    short = short_run_ids([run_id])[run_id] if in_root else run_id
    also = f" (short id {short})" if short != run_id else ""
    console.print(Text.assemble("run ", (run_id, "bold"), f"{also}: {status}"), soft_wrap=True)
    console.print(Text(f"folder {path}"), soft_wrap=True)


def _metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) rows of a run's metrics; the competition's metric by its title."""
    name = metrics.get("metric")
    rows = []
    for key, value in metrics.items():
        if isinstance(value, dict) or key == "metric":
            continue
        if key == "fold_scores" and isinstance(value, list):  # a cross-validation's folds
            shown = ", ".join(format_score(v, name) for v in value)
            rows.append((f"val {metric_title(name)} per fold", shown))
            continue
        if key in ("val_score_std", "oof_score"):
            what = "std over folds" if key == "val_score_std" else "out-of-fold"
            rows.append((f"val {metric_title(name)} ({what})", format_score(value, name)))
            continue
        split, _, rest = key.partition("_score")
        if split in ("val", "test") and rest in ("", "_last"):  # the competition's metric
            last = " (last evaluation)" if rest else ""
            if split == "val" and not rest and "fold_scores" in metrics:
                last = " (mean over folds)"
            rows.append((f"{split} {metric_title(name)}{last}", format_score(value, name)))
        else:  # train_acc, val_acc, val_knn_acc, ...: accuracies, shown as percentages
            rows.append((key, format_score(value, key)))
    return rows


def config_rows(cfg: dict[str, Any]) -> list[tuple[str, str]]:
    """(setting, value) rows of a run's config, each plugin parameter on its own row in the
    spelling ``--set`` takes (``encoder.width``); empty settings are left out."""
    rows = []
    for key, value in cfg.items():
        section = key.removesuffix("_params")
        if key.endswith("_params") and isinstance(value, dict):
            rows += [(f"{section}.{k}", _value(v)) for k, v in value.items()]
        elif value not in ({}, [], (), "", None):
            rows.append((key, _value(value)))
    return rows


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)
