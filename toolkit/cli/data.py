"""``tk data``: check a competition folder, write the bundled example competition."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from toolkit.cli._common import JsonOption, QuietOption, print_json, stdout, table

app = typer.Typer(
    help="Competition data: check a folder's layout and contents, write the example.",
    no_args_is_help=True,
)

CompetitionPath = Annotated[
    Path, typer.Argument(help="Competition folder (or .npz file).", show_default=False)
]
RefreshOption = Annotated[
    bool, typer.Option("--refresh", help="Decode again, replacing the cached arrays.")
]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Decoding processes (default: every core)."),
]
_MAX_CLASS_ROWS = 50  # longer class lists are cut in the table (--json has them all)


@app.command("check")
def check(
    path: CompetitionPath,
    json: JsonOption = False,
    refresh: RefreshOption = False,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Detect the layout, load (or take from the cache) and summarise a competition."""
    from toolkit.data import load_competition, summary

    with contextlib.nullcontext() if quiet else _log_to_stderr():
        info = summary(load_competition(path, refresh=refresh, workers=workers))
    if json:
        print_json(info)
    else:
        render_summary(info)


@app.command("example")
def example(
    name: Annotated[str, typer.Argument(help="Example to write: digits.", show_default=False)],
    out: Annotated[Path, typer.Argument(help="New or empty folder.", show_default=False)],
    seed: Annotated[int, typer.Option(help="Seed of the train/test split and ids.")] = 0,
    test_fraction: Annotated[float, typer.Option(help="Share of images in the test set.")] = 0.2,
) -> None:
    """Write a bundled example competition (Kaggle layout) to OUT."""
    from toolkit.data import make_example

    folder = make_example(name, out, seed=seed, test_fraction=test_fraction)
    typer.echo(f"wrote the {name} example to {folder}")


def render_summary(info: dict[str, Any]) -> None:
    """Two tables on stdout: the overview, then classes with their image counts."""
    mean = ", ".join(f"{v:.4f}" for v in info["channel_mean"])
    std = ", ".join(f"{v:.4f}" for v in info["channel_std"])
    c, h, w = info["image_shape"]
    rows = [
        ("format", info["format"]),
        ("folder", info["root"]),
        ("classes", info["num_classes"]),
        ("image shape", f"{c} x {h} x {w} (C x H x W)"),
        ("channel mean", mean),
        ("channel std", std),
        ("train images", info["train_count"]),
        ("test images", info["test_count"]),
        ("submission columns", ", ".join(info["submission_columns"])),
        ("answer key", "yes" if info["has_answers"] else "no"),
    ]
    console = stdout()
    console.print(table(f"Competition {info['name']}", ["field", "value"], rows))
    classes = info["classes"]
    class_rows = [(k["label"], k["train"], k["test"]) for k in classes[:_MAX_CLASS_ROWS]]
    if len(classes) > _MAX_CLASS_ROWS:
        class_rows.append((f"... {len(classes) - _MAX_CLASS_ROWS} more (see --json)", "", ""))
    console.print(table("Classes", ["label", "train", "test"], class_rows))


class _StderrHandler(logging.Handler):
    """Log lines to whatever ``sys.stderr`` is at the time (stdout stays pipeable)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


@contextlib.contextmanager
def _log_to_stderr() -> Iterator[None]:
    """Show the data stage's progress messages (decoding, cache hits) on stderr, for one call."""
    logger = logging.getLogger("toolkit.data")
    handler, level = _StderrHandler(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
