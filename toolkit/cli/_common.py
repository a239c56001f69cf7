"""Helpers shared by the CLI command groups: consoles, JSON output, tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
CompetitionArg = Annotated[
    str | None,
    typer.Argument(
        help="Competition folder (default: the bundled digits example, made on first use)."
    ),
]

DEFAULT_COMPETITION = Path("data") / "digits"  # the bundled example, relative to the cwd


def load_competition_arg(path: str | None, *, quiet: bool = False) -> Any:
    """Load the competition at ``path``, or make and load the bundled digits example."""
    from toolkit.data import load_competition, make_example

    if path is None:
        target = DEFAULT_COMPETITION
        if not target.exists():
            if not quiet:
                stderr().print(f"making the bundled digits competition in {target}")
            make_example("digits", target)
        path = str(target)
    return load_competition(path)


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``10m``, ``1.5h``; anything else is a user error."""
    from toolkit.errors import ToolkitError

    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    raw = text.strip().lower()
    scale = units.get(raw[-1:])
    number = raw[:-1] if scale else raw
    try:
        seconds = float(number) * (scale or 1.0)
    except ValueError:
        raise ToolkitError(f"cannot read duration {text!r}; use e.g. 90s, 10m or 1h.") from None
    if not seconds > 0:
        raise ToolkitError(f"duration must be positive, got {text!r}.")
    return seconds


def stdout() -> Console:
    """The console for results (stdout stays pipeable)."""
    from rich.console import Console

    return Console()


def stderr() -> Console:
    """The console for progress and logs."""
    from rich.console import Console

    return Console(stderr=True)


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
