"""Helpers shared by the CLI command groups: consoles, JSON output, tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from toolkit.train.config import parse_duration as parse_duration  # re-exported for the CLI

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

# Options more than one command takes, declared once. A factory where the help says what
# the option defaults to in each command; an alias where it is the same everywhere.
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
CompetitionArg = Annotated[
    str | None,
    typer.Argument(
        help="Competition folder (default: the bundled digits example, made on first use)."
    ),
]
StorageOption = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Optuna storage: a SQLAlchemy URL (postgresql://user@host/db) or a journal file; "
        "default: studies/<name>.journal.",
    ),
]
TrialsOption = Annotated[
    int | None,
    typer.Option("--trials", "-n", help="Finished trials wanted in total (default: the study's)."),
]
WorkersOption = Annotated[
    int, typer.Option("--workers", "-w", help="Worker processes on this machine.")
]

METRICS_HELP = "accuracy, balanced_accuracy, f1_macro, f1_micro, log_loss, roc_auc, qwk or map@k"


def metric_option(default_text: str) -> Any:
    """``--metric/-m``, with what it defaults to in this command (for ``Annotated``)."""
    return typer.Option("--metric", "-m", help=f"Metric: {METRICS_HELP} ({default_text}).")


def set_option(help_text: str) -> Any:
    """``--set/-s key=value`` (repeatable), with the keys this command takes."""
    return typer.Option("--set", "-s", help=f"{help_text} Repeatable.")


def budget_option(help_text: str) -> Any:
    """``--budget``: a wall-clock duration (90s, 10m, 1h), read by :func:`parse_duration`."""
    return typer.Option("--budget", help=help_text)


def seed_option(help_text: str) -> Any:
    """``--seed``, with what it seeds in this command."""
    return typer.Option("--seed", help=help_text)


DEFAULT_COMPETITION = Path("data") / "digits"  # the bundled example, relative to the cwd


def load_competition_arg(path: str | None, *, quiet: bool = False, config: Any = None) -> Any:
    """Load the competition at ``path``, or make and load the bundled digits example.

    ``config`` (a TrainConfig) says which image size and resize mode to load it with.
    """
    from toolkit.data import load_competition, make_example
    from toolkit.train.task import load_for

    if path is None:
        target = DEFAULT_COMPETITION
        if not target.exists():
            if not quiet:
                stderr().print(f"making the bundled digits competition in {target}")
            make_example("digits", target)
        path = str(target)
    return load_competition(path) if config is None else load_for(config, path)


def stdout() -> Console:
    """The console for results (stdout stays pipeable).

    Markup is off: user text (class names such as ``[airplane]``, a folder ``comp[v2]``, a
    label ``[/x]``) prints as it is; styling goes through :class:`rich.text.Text`.
    """
    from rich.console import Console

    return Console(markup=False)


def stderr() -> Console:
    """The console for progress and logs."""
    from rich.console import Console

    return Console(stderr=True, markup=False)  # markup off: see stdout()


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON to stdout (no Rich markup, so it parses)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """One table style for every listing."""
    from rich.table import Table

    tbl = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        tbl.add_column(col, overflow="fold")
    for row in rows:
        tbl.add_row(*("" if v is None else str(v) for v in row))
    return tbl


PERCENT_METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "f1_micro", "map@")


def format_score(value: Any, metric: str | None = "accuracy") -> str:
    """A metric's value as tables show it: percentages for accuracy-like metrics (accuracy,
    balanced accuracy, F1, MAP@k), four decimals for the others (log loss, ROC AUC, kappa)."""
    if value is None or not isinstance(value, int | float):
        return "" if value is None else str(value)
    name = metric or "accuracy"
    if name.startswith(PERCENT_METRICS) or name.endswith("_acc"):
        return f"{100 * value:.2f}%"
    return f"{value:.4f}"


def format_seconds(value: Any) -> str:
    """A duration in seconds as tables show it (``12.3s``); empty when unknown."""
    return "" if value is None else f"{float(value):.1f}s"


def metric_title(metric: str | None) -> str:
    """The metric's name for a column header ("log loss", "MAP@5"); unknown names as given."""
    if not metric:
        return "accuracy"
    try:
        from toolkit.metrics import get_metric

        return get_metric(metric).title
    except Exception:  # a record written by another version: show its name as it is
        return metric
