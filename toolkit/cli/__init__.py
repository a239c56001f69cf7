"""The ``tk`` command: thin Typer commands over library functions.

Each command group lives in its own module and is joined here with ``add_typer``.
Nothing heavy is imported at module level, so ``tk --help`` starts instantly.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from toolkit.cli import assignment as assignment_cmd
from toolkit.cli import data as data_cmd
from toolkit.cli import main_job as main_job_cmd
from toolkit.cli import plugins as plugins_cmd
from toolkit.cli import submit as submit_cmd
from toolkit.cli import train as train_cmd
from toolkit.cli import tune as tune_cmd
from toolkit.errors import (
    ToolkitError,
    catch_interrupts,
    interrupt_exit_code,
    interrupt_message,
)

app = typer.Typer(
    name="tk",
    help="Image-classification competitions: train, tune, submit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(plugins_cmd.app, name="plugins")
app.add_typer(data_cmd.app, name="data")
app.command("run")(main_job_cmd.main_job_command)
app.command("train")(train_cmd.train_command)
app.add_typer(train_cmd.runs_app, name="runs")
app.command("assignment")(assignment_cmd.assignment_command)
app.add_typer(submit_cmd.submit_app, name="submit")
app.command("score")(submit_cmd.score_command)
app.command("leaderboard")(submit_cmd.leaderboard_command)
app.command("tune")(tune_cmd.tune_command)
app.add_typer(tune_cmd.study_app, name="study")


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
    plugins: Annotated[
        list[str] | None,
        typer.Option(
            "--plugins",
            help="Plugin file or folder to load (repeatable); also $TOOLKIT_PLUGINS.",
        ),
    ] = None,
) -> None:
    """Image-classification competitions: train, tune, submit."""
    if debug:
        os.environ["TOOLKIT_DEBUG"] = "1"
    if plugins:
        from toolkit.registry import add_plugin_paths

        add_plugin_paths(plugins)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning a :class:`ToolkitError` into one line + exit 2."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    catch_interrupts()
    try:
        result = app(args=argv, prog_name="tk", standalone_mode=False)
    except ToolkitError as err:
        if debug or os.environ.get("TOOLKIT_DEBUG") == "1":
            raise
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        typer.echo(interrupt_message(), err=True)
        sys.exit(interrupt_exit_code())
    except SystemExit:
        raise
    except Exception as err:  # click's usage errors arrive here in non-standalone mode
        # Typer vendors its own copy of click, so match click's exceptions by shape.
        show, code = getattr(err, "show", None), getattr(err, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        if type(err).__name__ == "Abort":
            if isinstance(err.__context__, KeyboardInterrupt):  # click wraps Ctrl-C/SIGTERM
                typer.echo(interrupt_message(), err=True)
                sys.exit(interrupt_exit_code())
            typer.echo("aborted", err=True)
            sys.exit(1)
        raise
    if isinstance(result, int) and result != 0:
        if result == 130:  # Typer turns a KeyboardInterrupt inside a command into 130
            typer.echo(interrupt_message(), err=True)
            result = interrupt_exit_code()
        sys.exit(result)
