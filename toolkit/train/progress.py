"""A Rich progress bar on stderr (stage, loss, validation score, images/s, elapsed and
remaining time), or nothing."""

from __future__ import annotations

from typing import Any

# Stages whose evaluations are kNN accuracies of the embeddings, whatever the metric
# (toolkit.train.plan: an embedding loss trains the "encoder" stage first).
KNN_STAGES = ("encoder",)
STATUS_ORDER = ("val", "epoch", "loss", "img_s")  # shown first; left out last
BAR_WIDTH = 10
# Everything on the line but the stage's name and the status: the bar, "100%", "0:00:12",
# "eta", "00:34" and the six spaces between the seven columns.
FIXED_WIDTH = BAR_WIDTH + 4 + 7 + 3 + 5 + 6


class Progress:
    """Thin wrapper so the loop never branches on ``quiet``.

    Numbers follow the tables' convention (:func:`format_score`): an accuracy-like
    validation score as a percentage (``val 97.92%``), log loss and the like with four
    decimals. ``metric`` names the competition's metric.
    """

    def __init__(self, quiet: bool, metric: str = "accuracy") -> None:
        self._bar: Any = None
        self._task: Any = None
        self._name = ""
        self._metric = metric
        self._knn = False
        if not quiet:
            from rich.console import Console
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}", style="bold", markup=False),
                BarColumn(bar_width=BAR_WIDTH),
                TextColumn("{task.percentage:>3.0f}%", markup=False),
                TimeElapsedColumn(),
                TextColumn("eta", markup=False),
                TimeRemainingColumn(compact=True),
                TextColumn("{task.fields[status]}", markup=False),
                console=Console(stderr=True, markup=False),
                transient=False,
            )
            self._bar.start()

    def stage(self, name: str) -> None:
        self._name = name
        self._knn = name in KNN_STAGES
        if self._bar is not None:
            self._task = self._bar.add_task(name, total=1000, status="")

    def update(self, fraction: float, **status: Any) -> None:
        if self._bar is None or self._task is None:
            return
        room = self._bar.console.width - len(self._name) - FIXED_WIDTH
        text = self.status_text(status, room)
        self._bar.update(
            self._task, completed=int(min(max(fraction, 0.0), 1.0) * 1000), status=text
        )

    def status_text(self, status: dict[str, Any], room: int) -> str:
        """The status fields that fit in ``room`` characters, whole: the validation score
        first, then epoch, loss and images/s (left out in the reverse order on a narrow
        terminal, never cut)."""
        order = sorted(status, key=lambda k: STATUS_ORDER.index(k) if k in STATUS_ORDER else 99)
        shown: list[str] = []
        for key in order:
            if status[key] is None:
                continue
            field = self.field(key, status[key])
            if len("  ".join([*shown, field])) > room:
                break
            shown.append(field)
        return "  ".join(shown)

    def field(self, key: str, value: Any) -> str:
        """One status field as shown: ``val 97.92%``, ``loss 0.3127``, ``1,234 img/s``."""
        if key == "val":
            if self._knn:
                return f"val kNN {score_text(value, 'accuracy')}"
            return f"val {score_text(value, self._metric)}"
        if key == "img_s" and isinstance(value, int | float):
            return f"{value:,.0f} img/s"
        if key == "loss" and isinstance(value, float):
            return f"loss {value:.4f}"
        return f"{key} {value}"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


PERCENT_METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "f1_micro", "map@")


def score_text(value: Any, metric: str | None) -> str:
    """A metric's value as progress and tables show it: a percentage for accuracy-like
    metrics (accuracy, balanced accuracy, F1, MAP@k, ``*_acc``), four decimals for the others
    (log loss, ROC AUC, kappa)."""
    if not isinstance(value, int | float):
        return "" if value is None else str(value)
    name = metric or "accuracy"
    if name.startswith(PERCENT_METRICS) or name.endswith("_acc"):
        return f"{100 * value:.2f}%"
    return f"{value:.4f}"
