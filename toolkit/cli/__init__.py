"""The ``tk`` command: thin Typer commands over library functions.

Each command group lives in its own module and is joined here with ``add_typer``.
Nothing heavy is imported at module level, so ``tk --help`` starts instantly.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Annotated, Any

import typer

from toolkit.cli import assignment as assignment_cmd
from toolkit.cli import data as data_cmd
from toolkit.cli import lr_find as lr_find_cmd
from toolkit.cli import main_job as main_job_cmd
from toolkit.cli import plugins as plugins_cmd
from toolkit.cli import predict as predict_cmd
from toolkit.cli import refit as refit_cmd
from toolkit.cli import report as report_cmd
from toolkit.cli import soup as soup_cmd
from toolkit.cli import submit as submit_cmd
from toolkit.cli import train as train_cmd
from toolkit.cli import tune as tune_cmd
from toolkit.errors import (
    ToolkitError,
    catch_interrupts,
    ignore_file_size_signal,
    interrupt_exit_code,
    interrupt_message,
    quiet_thread_write_errors,
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
app.command("refit")(refit_cmd.refit_command)
app.command("lr-find")(lr_find_cmd.lr_find_command)
app.command("predict")(predict_cmd.predict_command)
app.add_typer(train_cmd.runs_app, name="runs")
app.command("assignment")(assignment_cmd.assignment_command)
app.add_typer(submit_cmd.submit_app, name="submit")
app.command("score")(submit_cmd.score_command)
app.command("leaderboard")(submit_cmd.leaderboard_command)
app.command("tune")(tune_cmd.tune_command)
app.add_typer(tune_cmd.study_app, name="study")
app.command("soup")(soup_cmd.soup_command)
app.command("report")(report_cmd.report_command)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("toolkit-ic")
        except PackageNotFoundError:  # a source tree that was never installed
            number = "unknown (not installed)"
        typer.echo(f"tk (toolkit-ic) {number}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
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


def _tidy_help(command: Any) -> Any:
    """Help as ``tk`` shows it, in every command and group: boolean flags without a ``<bool>``
    placeholder (they take no value: ``--quiet``, not ``--quiet true``), and docstring
    paragraphs reflowed to the terminal (not broken where the source lines break)."""
    for param in getattr(command, "params", []):
        _no_placeholder(param)
    original = command.get_help_option

    def get_help_option(ctx: Any) -> Any:  # click makes --help itself, per command
        return _no_placeholder(original(ctx))

    command.get_help_option = get_help_option
    if command.help:
        paragraphs = inspect.cleandoc(command.help).split("\n\n")
        command.help = "\n\n".join(
            p if p.startswith("\b") else " ".join(p.split("\n")) for p in paragraphs
        )
    for sub in getattr(command, "commands", {}).values():
        _tidy_help(sub)
    return command


def _no_placeholder(param: Any) -> Any:
    if param is not None and getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""
    return param


def command() -> Any:
    """The click command behind :data:`app`, as ``tk`` runs it."""
    return _tidy_help(typer.main.get_command(app))


def _check_set_pairs(args: list[str]) -> None:
    """``--set lr 0.01`` would reach click as a stray argument (four lines of usage): say what
    is meant instead, in one line."""
    for flag, value, after in zip(args, args[1:], [*args[2:], ""], strict=False):
        if flag in ("--set", "-s") and "=" not in value:
            given = after if after and not after.startswith("-") else "VALUE"
            raise ToolkitError(
                f"--set expects key=value, got {value!r}; write it as --set {value}={given}."
            )


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning a :class:`ToolkitError` into one line + exit 2."""
    args = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in args
    catch_interrupts()
    ignore_file_size_signal()  # past `ulimit -f` a write fails (one line) instead of killing us
    quiet_thread_write_errors()
    try:
        _check_set_pairs(args)
        result = command().main(args=args, prog_name="tk", standalone_mode=False)
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
    except OSError as err:  # a disk or folder problem no command turned into a ToolkitError
        if debug or os.environ.get("TOOLKIT_DEBUG") == "1":
            raise
        from toolkit.io import os_error_message

        typer.echo(f"error: {os_error_message(err)}", err=True)
        sys.exit(ToolkitError.exit_code)
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
