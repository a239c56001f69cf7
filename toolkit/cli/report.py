"""``tk report``: one self-contained HTML page about a run, a study or a competition."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli._common import StorageOption, stdout


def report_command(
    run: Annotated[
        str | None, typer.Argument(help="Run id (a unique prefix is enough) or run folder.")
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="Report on this study instead.")
    ] = None,
    competition: Annotated[
        str | None,
        typer.Option("--competition", help="Report on this competition's runs and leaderboard."),
    ] = None,
    storage: StorageOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="HTML file or folder (default: reports/<kind>-<name>.html)."
        ),
    ] = None,
) -> None:
    """Write one HTML page, images embedded, that opens anywhere with no network: a run's
    tables, curves, confusion matrix and t-SNE; a study's trials and plots and its best run;
    or a competition's runs; each with the competition's leaderboard."""
    from toolkit.report import build_report, write_report

    report = build_report(run=run, study=study, competition=competition, storage=storage)
    path = write_report(report, out)
    stdout().print(f"wrote {path}", highlight=False, soft_wrap=True)
