"""TensorBoard event files in each run folder, so ``tensorboard --logdir runs/`` shows every run.

The ``tensorboard`` training setting decides (:func:`wanted`): ``auto`` (the default) logs
whenever the ``tensorboard`` package is installed (``pip install "toolkit-ic[tensorboard]"``),
as PyTorch Lightning does, so installing the extra is all it takes; ``on`` requires the package
(a one-line error before the run starts if it is missing); ``off`` never logs.

What a run logs, through ``torch.utils.tensorboard``:

- during training (:class:`EventLog`), one scalar per number of each metrics.csv row, tagged
  ``<stage>/<column>`` (``finetune/train_loss``, ``finetune/val_acc``, ``finetune/lr``,
  ``finetune/images_per_s``...) at the stage's optimisation step: the same values as metrics.csv;
- when the run is complete (:func:`write_summary`), in a second event file beside the first:
  the final metrics (``final/val_acc``, ``final/test_score``...), the config as text and the
  run's plots as images (``curves.png``, ``confusion.png``, ``tsne.png``: what it drew).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from typing import Any

import numpy as np

from toolkit import io
from toolkit.errors import ToolkitError
from toolkit.runs.store import RunDir

MODES = ("auto", "on", "off")
ENV = "TOOLKIT_TENSORBOARD"  # on | off: overrides auto (as $TOOLKIT_PRECISION does precision)
INSTALL = 'pip install "toolkit-ic[tensorboard]"'
# Columns of a metrics row that are not logged as values: the x-axis and the tag's prefix.
NOT_SCALARS = frozenset({"eval", "stage", "step"})
FIGURES = ("curves.png", "confusion.png", "tsne.png")  # the run's plots, as images if present


def installed() -> bool:
    """Whether the ``tensorboard`` package can be imported (looked up, not imported)."""
    return importlib.util.find_spec("tensorboard") is not None


def wanted(mode: str) -> bool:
    """Whether a run with ``tensorboard = mode`` logs; ``on`` without the package is an error.

    ``$TOOLKIT_TENSORBOARD`` (``on`` or ``off``) overrides ``auto`` (the test suite turns it off).
    """
    if mode == "auto":
        mode = os.environ.get(ENV, "").strip().lower() or "auto"
    if mode not in MODES:
        raise ToolkitError(f"${ENV} must be on, off or auto, got {mode!r}.")
    if mode == "off":
        return False
    if mode == "on" and not installed():
        raise ToolkitError(
            f"tensorboard=on needs the tensorboard package: {INSTALL} (or set tensorboard=off)."
        )
    return installed()


class EventLog:
    """The run's training scalars as they are recorded; :meth:`close` it when the run ends."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer  # a torch.utils.tensorboard.SummaryWriter

    def add_row(self, row: dict[str, Any]) -> None:
        """One evaluation's row: each finite number becomes ``<stage>/<column>``."""
        for key, value in row.items():
            if key not in NOT_SCALARS and _is_number(value):
                self._writer.add_scalar(f"{row['stage']}/{key}", value, global_step=row["step"])

    def flush(self) -> None:
        self._guarded(self._writer.flush)

    def close(self) -> None:
        self._guarded(self._writer.close)

    def _guarded(self, action: Any) -> None:
        """Events are written by a background thread: a full disk surfaces here, as one line
        naming the event file."""
        try:
            action()
        except OSError as err:
            raise io.write_error(_event_file(self._writer), err) from None


def open_log(run: RunDir | None, mode: str) -> EventLog | None:
    """An :class:`EventLog` in ``run``'s folder when ``mode`` asks for one, else None."""
    writer = _writer(run, mode) if run is not None else None
    return None if writer is None else EventLog(writer)


def write_summary(run: RunDir, mode: str, summary: dict[str, Any], config: dict[str, Any]) -> None:
    """Log a completed run's final metrics, config and plots (its PNGs, as images)."""
    writer = _writer(run, mode)
    if writer is None:
        return
    try:
        for key, value in summary.items():
            if _is_number(value):
                writer.add_scalar(f"final/{key}", value, global_step=0)
        writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```")
        for name in FIGURES:
            if run.file(name).is_file():
                writer.add_image(name.removesuffix(".png"), _read_png(run, name), 0, None, "HWC")
    finally:
        writer.close()


def _event_file(writer: Any) -> str:
    """The event file a SummaryWriter writes (its folder when torch hides the name)."""
    events = getattr(getattr(writer, "file_writer", None), "event_writer", None)
    return str(getattr(events, "_file_name", None) or writer.get_logdir())


def _writer(run: RunDir, mode: str) -> Any:
    """A SummaryWriter on a new event file in the run folder, or None when not logging."""
    if not wanted(mode):
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:  # installed but broken (a protobuf it cannot use, ...)
        if mode == "auto":
            return None
        raise ToolkitError(
            f"tensorboard=on: cannot load TensorBoard ({err}); {INSTALL}."
        ) from None
    return SummaryWriter(log_dir=str(run.path))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _read_png(run: RunDir, name: str) -> np.ndarray:
    from PIL import Image

    with Image.open(run.file(name)) as image:
        return np.asarray(image.convert("RGB"))  # (H, W, 3) uint8
