"""``tk train`` and ``tk runs``: one experiment, and the table of all of them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from toolkit.cli._common import (
    CompetitionArg,
    JsonOption,
    QuietOption,
    format_score,
    load_competition_arg,
    metric_option,
    metric_title,
    parse_duration,
    print_json,
    stderr,
    stdout,
    table,
)

runs_app = typer.Typer(help="List and inspect training runs.", invoke_without_command=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        help="key=value: a training field (lr=0.01, epochs=5), a data or submission setting "
        "(data.image_size=96, data.resize=pad, submission.kind=probability) or a plugin "
        "parameter (encoder.embedding_dim=64, loss.margin=0.5, head.dropout=0.1). Repeatable.",
    ),
]


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
    settings: SetOption = None,
    metric: str | None = metric_option("default: by the submission's shape"),
    budget: Annotated[
        str | None,
        typer.Option(
            "--budget",
            help="Wall-clock budget (e.g. 90s, 10m, 1h); the schedule is shaped to end with it.",
        ),
    ] = None,
    quiet: QuietOption = False,
    json: JsonOption = False,
) -> None:
    """Train one model (encoder + loss + head) on a competition and save a run folder."""
    from toolkit.train import TrainConfig, apply_overrides, parse_overrides, train
    from toolkit.train.distributed import World

    main_rank = World.from_env().is_main  # under torchrun only rank 0 speaks
    quiet = quiet or not main_rank
    base = TrainConfig()
    overrides: dict[str, Any] = {}
    if recipe is not None:
        from toolkit.train.recipes import get_recipe

        chosen = get_recipe(recipe)
        base = TrainConfig(encoder=chosen.encoder, loss=chosen.loss, head=chosen.head)
        overrides.update(chosen.overrides(encoder=encoder, loss=loss, head=head))
    overrides.update(parse_overrides(settings or []))
    if budget is not None:
        overrides["budget"] = parse_duration(budget)
    if metric is not None:
        overrides["metric"] = metric
    base = TrainConfig(
        encoder=encoder or base.encoder, loss=loss or base.loss, head=head or base.head
    )
    config = apply_overrides(base, overrides)
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
                _secs(r.get("duration_s")),
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
    console = stdout()
    console.print(f"[bold]{record.get('id')}[/bold]  {record.get('status')}  ({run.path})")
    cfg = record.get("config", {})
    rows = [(k, v) for k, v in cfg.items() if v not in ({}, [], "", None)]
    console.print(table("Config", ["setting", "value"], rows))
    metrics = record.get("metrics") or {}
    mrows = _metric_rows(metrics)
    per_class = metrics.get("per_class_val_acc") or {}
    mrows += [(f"val acc [{c}]", _pct(v)) for c, v in per_class.items()]
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
            label = f"{key[:-6]} {metric_title(name)}"
            rows.append((label, format_score(value, name)))
        else:
            rows.append((key, _pct(value)))
    return rows


def _pct(value: Any) -> str:
    if isinstance(value, float) and 0 <= value <= 1:
        return f"{100 * value:.2f}%"
    return "" if value is None else str(value)


def _secs(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f}s"


def _key_params(cfg: dict[str, Any]) -> str:
    parts = [f"lr={cfg.get('lr')}", f"bs={cfg.get('batch_size')}"]
    for section in ("encoder", "loss", "head"):
        for k, v in (cfg.get(f"{section}_params") or {}).items():
            parts.append(f"{k}={v}")
    return " ".join(parts)
