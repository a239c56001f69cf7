"""Helpers shared by the CLI command groups: consoles, JSON output, tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


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
