"""``tk train`` and ``tk runs``: one experiment, and the table of all of them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from toolkit.cli._common import (
    CompetitionArg,
    JsonOption,
    QuietOption,
    budget_option,
    format_score,
    format_seconds,
    load_competition_arg,
    metric_option,
    metric_title,
    print_json,
    set_option,
    stderr,
    stdout,
    table,
)

runs_app = typer.Typer(help="List and inspect training runs.", invoke_without_command=True)


def train_command(
    competition: CompetitionArg = None,
    encoder: Annotated[
        str | None, typer.Option("--encoder", "-e", help="Encoder plugin. [default: fastnet]")
    ] = None,
    loss: Annotated[
        str | None, typer.Option("--loss", "-l", help="Loss plugin. [default: softmax-ce]")
    ] = None,
    head: Annotated[
        str | None, typer.Option("--head", help="Head plugin. [default: finetune]")
    ] = None,
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
    quiet: QuietOption = False,
    json: JsonOption = False,
) -> None:
    """Train one model (encoder + loss + head) on a competition and save a run folder."""
    from toolkit.train import train
    from toolkit.train.compose import command_line_settings, compose_config
    from toolkit.train.distributed import World

    main_rank = World.from_env().is_main  # under torchrun only rank 0 speaks
    quiet = quiet or not main_rank
    config = compose_config(
        recipe=recipe,
        encoder=encoder,
        loss=loss,
        head=head,
        settings=command_line_settings(settings or [], budget=budget, metric=metric),
    )
    comp = load_competition_arg(competition, quiet=quiet, config=config)
    result = train(config, comp, quiet=quiet, extra={"recipe": recipe} if recipe else None)
    if not main_rank:
        return
    if json:
        print_json({"run_id": result.run_id, "path": str(result.path), **result.metrics})
        return
    rows = [("run", result.run_id), ("folder", str(result.path))]
    rows += _metric_rows(result.metrics)
    stdout().print(table(f"Run finished: {result.status}", ["", ""], rows))


@runs_app.callback()
def runs_list(ctx: typer.Context, json: JsonOption = False) -> None:
    """List runs, newest first: id, competition, plugins, key params, val/test acc, time."""
    if ctx.invoked_subcommand is not None:
        return
    from toolkit.runs import list_runs

    records = list_runs()
    if json:
        print_json(records)
        return
    rows = []
    for r in records:
        cfg, m = r.get("config", {}), r.get("metrics") or {}
        rows.append(
            (
                r.get("id"),
                r.get("competition"),
                f"{cfg.get('encoder')}/{cfg.get('loss')}/{cfg.get('head')}",
                _key_params(cfg),
                metric_title(m.get("metric")),
                format_score(m.get("val_score", m.get("val_acc")), m.get("metric")),
                format_score(m.get("test_score", m.get("test_acc")), m.get("metric")),
                r.get("status"),
                format_seconds(r.get("duration_s")),
            )
        )
    stdout().print(
        table(
            f"Runs ({len(rows)})",
            [
                "id",
                "competition",
                "encoder/loss/head",
                "params",
                "metric",
                "val",
                "test",
                "status",
                "time",
            ],
            rows,
        )
    )
    if not rows:
        stderr().print("no runs yet: try 'tk train' (runs are kept in ./runs or $TOOLKIT_RUNS)")


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
    from rich.text import Text

    console = stdout()
    console.print(
        Text.assemble((str(record.get("id")), "bold"), f"  {record.get('status')}  ({run.path})")
    )
    cfg = record.get("config", {})
    rows = [(k, v) for k, v in cfg.items() if v not in ({}, [], "", None)]
    console.print(table("Config", ["setting", "value"], rows))
    metrics = record.get("metrics") or {}
    mrows = _metric_rows(metrics)
    per_class = metrics.get("per_class_val_acc") or {}
    mrows += [(f"val acc [{c}]", format_score(v, "accuracy")) for c, v in per_class.items()]
    console.print(table("Metrics", ["metric", "value"], mrows))
    console.print(table("Artifacts", ["file"], [(str(run.path / f),) for f in files]))


def _metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) rows of a run's metrics; the competition's metric by its title."""
    name = metrics.get("metric")
    rows = []
    for key, value in metrics.items():
        if isinstance(value, dict) or key == "metric":
            continue
        if key in ("val_score", "test_score"):
            rows.append((f"{key[:-6]} {metric_title(name)}", format_score(value, name)))
        else:  # train_acc, val_acc, val_knn_acc, ...: accuracies, shown as percentages
            rows.append((key, format_score(value, key)))
    return rows


def _key_params(cfg: dict[str, Any]) -> str:
    parts = [f"lr={cfg.get('lr')}", f"bs={cfg.get('batch_size')}"]
    for section in ("encoder", "loss", "head"):
        for k, v in (cfg.get(f"{section}_params") or {}).items():
            parts.append(f"{k}={v}")
    return " ".join(parts)
