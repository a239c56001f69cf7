"""``tk data``: check a competition folder, write the bundled example competitions."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from toolkit.cli._common import (
    JsonOption,
    QuietOption,
    metric_option,
    print_json,
    seed_option,
    set_option,
    stdout,
    table,
)

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
DecodeWorkersOption = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Decoding processes (default: every core)."),
]
ImageSizeOption = Annotated[
    int,
    typer.Option(
        "--image-size",
        min=0,
        help="Square side the images are resized to; 0 = automatic (the native size when all "
        "images share one square size, else the median shorter side, at most 64).",
    ),
]
ResizeOption = Annotated[
    str,
    typer.Option(
        "--resize",
        help="How images reach that size: crop (centre crop), pad (black bars) or stretch.",
    ),
]
_MAX_CLASS_ROWS = 50  # longer class lists are cut in the table (--json has them all)


@app.command("check")
def check(
    path: CompetitionPath,
    json: JsonOption = False,
    refresh: RefreshOption = False,
    workers: DecodeWorkersOption = None,
    image_size: ImageSizeOption = 0,
    resize: ResizeOption = "crop",
    metric: Annotated[str | None, metric_option("default: by the submission's shape")] = None,
    settings: Annotated[
        list[str] | None,
        set_option(
            "data.image_size=N, data.resize=MODE, submission.kind=KIND, submission.k=K, "
            "submission.positive_class=NAME."
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Detect the layout, load (or take from the cache) and summarise a competition: images,
    classes, the submission's shape and the metric it is scored by."""
    from toolkit.data import load_competition, summary
    from toolkit.train.compose import command_line_settings, compose_config
    from toolkit.train.config import validate
    from toolkit.train.task import resolve_task

    overrides = command_line_settings(settings or [], metric=metric)
    if image_size:
        overrides["data.image_size"] = image_size
    if resize != "crop":
        overrides["data.resize"] = resize
    config = compose_config(settings=overrides)
    validate(config)
    with contextlib.nullcontext() if quiet else _log_to_stderr():
        comp = load_competition(
            path,
            image_size=config.image_size,
            resize=config.resize,
            refresh=refresh,
            workers=workers,
        )
        info = summary(comp)
    info.update(resolve_task(config, comp).record(list(comp.classes)))
    if json:
        print_json(info)
    else:
        render_summary(info)


@app.command("example")
def example(
    name: Annotated[
        str, typer.Argument(help="Example to write: digits or photos.", show_default=False)
    ],
    out: Annotated[Path, typer.Argument(help="New or empty folder.", show_default=False)],
    seed: Annotated[int, seed_option("Seed of the train/test split and ids.")] = 0,
    test_fraction: Annotated[float, typer.Option(help="Share of images in the test set.")] = 0.2,
    submission: Annotated[
        str,
        typer.Option(
            help="photos only: the sample submission's shape: label, probability, "
            "class-probabilities or top-k."
        ),
    ] = "label",
) -> None:
    """Write a bundled example competition (Kaggle layout) to OUT: digits (8x8 handwritten
    digits) or photos (crops of two real photos in many sizes, formats and modes)."""
    from toolkit.data import make_example

    folder = make_example(name, out, seed=seed, test_fraction=test_fraction, submission=submission)
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
        ("image size", info.get("image_size_text", f"{h} x {w}")),
        ("channel mean", mean),
        ("channel std", std),
        ("train images", info["train_count"]),
        ("test images", info["test_count"]),
        ("submission", _submission_text(info.get("submission"))),
        ("metric", _metric_text(info.get("metric"))),
        ("answer key", "yes" if info["has_answers"] else "no"),
    ]
    console = stdout()
    console.print(table(f"Competition {info['name']}", ["field", "value"], rows))
    classes = info["classes"]
    class_rows = [(k["label"], k["train"], k["test"]) for k in classes[:_MAX_CLASS_ROWS]]
    if len(classes) > _MAX_CLASS_ROWS:
        class_rows.append((f"... {len(classes) - _MAX_CLASS_ROWS} more (see --json)", "", ""))
    console.print(table("Classes", ["label", "train", "test"], class_rows))


def _submission_text(submission: dict[str, Any] | None) -> str:
    if not submission:
        return ""
    kind, header = submission["kind"], submission["header"]
    columns = ", ".join(header) if len(header) <= 6 else f"{header[0]} + {len(header) - 1} columns"
    if kind == "top-k":
        kind = f"top-{submission['k']} labels"
    elif kind == "probability":
        kind = f"probability of {submission['positive_class']}"
    return f"{kind} ({columns})"


def _metric_text(metric: dict[str, Any] | None) -> str:
    if not metric:
        return ""
    better = "lower" if metric["direction"] == "minimize" else "higher"
    return f"{metric['title']} ({metric['name']}; {better} is better)"


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
