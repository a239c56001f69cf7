"""Helpers shared by the CLI command groups: consoles, JSON output, tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from toolkit.train.durations import parse_duration as parse_duration  # re-exported for the CLI

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

# Options more than one command takes, declared once. A factory where the help says what
# the option defaults to in each command; an alias where it is the same everywhere.
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
# The plugin options of the commands that build a training config (tk train, tk lr-find).
EncoderOption = Annotated[
    str | None, typer.Option("--encoder", "-e", help="Encoder plugin. (default: fastnet)")
]
LossOption = Annotated[
    str | None, typer.Option("--loss", "-l", help="Loss plugin. (default: softmax-ce)")
]
HeadOption = Annotated[str | None, typer.Option("--head", help="Head plugin. (default: finetune)")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
CompetitionArg = Annotated[
    str | None,
    typer.Argument(
        help="Competition folder (default: the bundled digits example, made on first use)."
    ),
]
STORAGE_ENV = "TOOLKIT_STORAGE"  # the storage URL, kept off the command line (and out of ps)
StorageOption = Annotated[
    str | None,
    typer.Option(
        "--storage",
        envvar=STORAGE_ENV,
        show_envvar=True,
        help="Optuna storage: a SQLAlchemy URL (postgresql://user@host/db) or a journal file; "
        "default: studies/<name>.journal. Put a URL with a password in $TOOLKIT_STORAGE.",
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
    """One table style for every key/value view (values may wrap; see :func:`listing` for
    tables whose ids and numbers must stay whole)."""
    from rich.table import Table

    tbl = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        tbl.add_column(col, overflow="fold")
    for row in rows:
        tbl.add_row(*("" if v is None else str(v) for v in row))
    return tbl


@dataclass(frozen=True)
class Column:
    """A column of a listing (:func:`listing`).

    ``kind``: ``"id"`` and ``"number"`` cells are never cut or folded (they must stay
    copyable); ``"text"`` cells are cut with an ellipsis when the table is too wide, down to
    ``min_width`` (at least the header's width). ``drop``: when cutting is not enough, columns
    are left out, the highest ``drop`` first; 0 = always shown.
    """

    name: str
    kind: str = "text"  # id | number | text
    drop: int = 0  # order in which the column is left out (highest first); 0 = never
    min_width: int = 8  # text: narrowest it is cut to (never below the header)
    hide_empty: bool = False  # leave the column out when every cell is empty


TABLE_EDGES = 1  # a table's left border; each column adds its width + 2 padding + 1 border
ELLIPSIS = "\u2026"


@dataclass(frozen=True)
class Listing:
    """A fitted table and the names of the columns left out to fit it."""

    table: Table
    width: int  # characters a line takes
    dropped: tuple[str, ...]


def listing(
    title: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int
) -> Listing:
    """A table that fits ``width`` without ever folding a word: text columns are cut with an
    ellipsis, widest first; then whole columns are left out in their ``drop`` order (and named
    in the caption). Ids and numbers stay whole; if even the undroppable columns do not fit,
    the lines are longer than ``width`` rather than broken."""
    from rich.table import Table

    cells = [[_cell(v) for v in row] for row in rows]
    natural = [
        max([len(c.name), *(row[i].cell_len for row in cells)]) for i, c in enumerate(columns)
    ]
    floor = [
        max(len(c.name), min(c.min_width, natural[i])) if c.kind == "text" else natural[i]
        for i, c in enumerate(columns)
    ]
    shown = [
        i
        for i, c in enumerate(columns)
        if not (c.hide_empty and all(not row[i].plain for row in cells))
    ]
    drops = sorted((i for i in shown if columns[i].drop), key=lambda i: -columns[i].drop)
    drops_done: list[int] = []
    while True:
        widths = {i: natural[i] for i in shown}
        excess = TABLE_EDGES + sum(w + 3 for w in widths.values()) - width
        while excess > 0:  # cut the widest text column by one, until it fits or none can give
            cuttable = [i for i in shown if widths[i] > floor[i]]
            if not cuttable:
                break
            widest = max(cuttable, key=lambda i: (widths[i], -i))
            widths[widest] -= 1
            excess -= 1
        if excess <= 0 or not drops:
            break
        drops_done.append(drops.pop(0))
        shown.remove(drops_done[-1])
    dropped = tuple(columns[i].name for i in drops_done)
    caption = (
        f"not shown at this width: {', '.join(dropped)} (a wider terminal or --json has them)"
        if dropped
        else None
    )
    tbl = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        caption=caption,
        caption_justify="left",
    )
    for i in shown:
        col = columns[i]
        tbl.add_column(
            col.name,
            justify="right" if col.kind == "number" else "left",
            no_wrap=True,
            overflow="ellipsis",
            min_width=widths[i],
            max_width=widths[i],
        )
    for row in cells:
        tbl.add_row(*(_cut(row[i], widths[i]) for i in shown))
    total = TABLE_EDGES + sum(widths[i] + 3 for i in shown)
    return Listing(tbl, total, dropped)


def print_listing(fitted: Listing, console: Console | None = None) -> None:
    """Print a :func:`listing` whole (wider than the console only when it cannot fit)."""
    console = console or stdout()
    width = max(console.width, fitted.width)
    console.print(fitted.table, width=width, crop=False)


def _cell(value: Any) -> Any:
    from rich.text import Text

    if isinstance(value, Text):
        return value
    return Text("" if value is None else str(value))


def _cut(text: Any, width: int) -> Any:
    if text.cell_len <= width:
        return text
    cut = text.copy()
    cut.truncate(width - 1)
    cut.append(ELLIPSIS)
    return cut


def format_score(value: Any, metric: str | None = "accuracy") -> str:
    """A metric's value as tables (and the progress bar) show it: percentages for
    accuracy-like metrics (accuracy, balanced accuracy, F1, MAP@k), four decimals for the
    others (log loss, ROC AUC, kappa)."""
    from toolkit.train.progress import score_text

    return score_text(value, metric)


def format_interval(interval: Any, metric: str | None = "accuracy") -> str:
    """A bootstrap interval (``{"low", "high", ...}``) in the score's own units without the
    per cent sign, ``97.10-99.38`` (the val column says what they are); empty without one."""
    if not isinstance(interval, dict) or interval.get("low") is None:
        return ""
    low, high = (format_score(interval[k], metric).rstrip("%") for k in ("low", "high"))
    return f"{low}-{high}"


def format_versus(entry: Any) -> str:
    """A run's standing against the best of its validation split (:mod:`toolkit.runs.noise`):
    ``best``, ``noise 62%`` / ``worse 99%`` (the share of bootstrap resamples in which the best
    scores better; under 95% is noise), ``better`` or ``other split``; empty without one."""
    if not isinstance(entry, dict):
        return ""
    verdict, p = entry.get("verdict"), entry.get("probability")
    if verdict in ("within noise", "worse") and isinstance(p, int | float):
        return f"{'noise' if verdict == 'within noise' else 'worse'} {int(100 * p)}%"
    return {"not comparable": "other split"}.get(str(verdict), str(verdict or ""))


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
