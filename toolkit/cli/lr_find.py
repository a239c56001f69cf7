"""``tk lr-find``: sweep the learning rate over a short run, plot it, suggest a value."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli._common import (
    CompetitionArg,
    EncoderOption,
    HeadOption,
    JsonOption,
    LossOption,
    QuietOption,
    budget_option,
    load_competition_arg,
    print_json,
    set_option,
    stderr,
    stdout,
)


def lr_find_command(
    competition: CompetitionArg = None,
    encoder: EncoderOption = None,
    loss: LossOption = None,
    head: HeadOption = None,
    recipe: Annotated[
        str | None,
        typer.Option("--recipe", "-r", help="A recipe to start from, as tk train takes it."),
    ] = None,
    settings: Annotated[
        list[str] | None,
        set_option("key=value, as tk train takes it (batch_size=128, optimizer=sgd, ...)."),
    ] = None,
    start_lr: Annotated[
        float, typer.Option("--start-lr", help="The sweep's first learning rate.")
    ] = 1e-7,
    end_lr: Annotated[
        float, typer.Option("--end-lr", help="The sweep's last learning rate.")
    ] = 10.0,
    budget: Annotated[
        str | None,
        budget_option(
            "The budget the lr is for (as tk train --budget takes it): a recipe that sizes the "
            "model by the budget (autosize) sweeps the width that budget trains on this machine."
        ),
    ] = None,
    steps: Annotated[
        int, typer.Option("--steps", help="Training steps of the sweep (epochs repeat).")
    ] = 100,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="The plot's path. (default: lr-find/<competition>-<plugins>.png)"
        ),
    ] = None,
    quiet: QuietOption = False,
    json: JsonOption = False,
) -> None:
    """Sweep the learning rate over a short run of the first training stage (fastai's LR range
    test: exponentially from --start-lr to --end-lr over --steps steps, stopping when the
    smoothed loss passes 4x its minimum), write the loss-vs-lr plot and suggest a learning rate
    by fastai's valley rule, as a --set to paste into tk train. No run folder is written."""
    from toolkit.train.compose import command_line_settings, compose_config
    from toolkit.train.lr_find import default_png, plot_sweep, sweep_lr

    config = compose_config(
        recipe=recipe,
        encoder=encoder,
        loss=loss,
        head=head,
        settings=command_line_settings(settings or [], budget=budget),
    )
    comp = load_competition_arg(competition, quiet=quiet, config=config)
    if not quiet:
        stderr().print(f"sweeping the lr from {start_lr:g} to {end_lr:g} over {steps} steps")
    sweep = sweep_lr(config, comp, start_lr=start_lr, end_lr=end_lr, steps=steps)
    png = plot_sweep(sweep, out or default_png(comp.name, config), f"{comp.name}: lr-find")
    if json:
        print_json({**sweep.as_json(), "png": str(png)})
        return
    from rich.text import Text

    console = stdout()
    stop = f"; the loss blew up at {sweep.stopped_lr:.3g}" if sweep.stopped_lr else ""
    console.print(
        Text(f"swept {len(sweep.lrs)} steps of the {sweep.stage} stage{stop}"), soft_wrap=True
    )
    if sweep.autosize:
        console.print(Text(f"autosize: {sweep.autosize}"), soft_wrap=True)
    console.print(Text(f"plot {png}"), soft_wrap=True)
    console.print(Text(f"suggested: --set {sweep.setting}={sweep.suggested_lr:g}"), soft_wrap=True)
