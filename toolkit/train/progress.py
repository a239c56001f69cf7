"""A Rich progress bar on stderr (epoch, loss, validation score, images/s), or nothing."""

from __future__ import annotations

from typing import Any


class Progress:
    """Thin wrapper so the loop never branches on ``quiet``."""

    def __init__(self, quiet: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        if not quiet:
            from rich.console import Console
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.start()

    def stage(self, name: str) -> None:
        if self._bar is not None:
            self._task = self._bar.add_task(name, total=1000, status="")

    def update(self, fraction: float, **status: Any) -> None:
        if self._bar is None or self._task is None:
            return
        text = "  ".join(f"{k} {_fmt(v)}" for k, v in status.items() if v is not None)
        self._bar.update(
            self._task, completed=int(min(max(fraction, 0.0), 1.0) * 1000), status=text
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
