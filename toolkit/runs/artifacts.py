"""Run artifacts beside the checkpoint: probabilities, metrics, curves, the confusion matrix
and a t-SNE plot.

curves.png names what it plots: the validation panel shows the run's metric by its title (log
loss for a log_loss run, its value as reported) and kNN accuracy for an embedding run's encoder
stage; :func:`curve_labels` decides those words and :func:`curves_figure` draws the figure
unsaved, so both can be checked without reading a PNG."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from toolkit import io
from toolkit.errors import ToolkitError
from toolkit.runs.results import FinalMetrics
from toolkit.runs.store import RunDir

TSNE_POINTS = 2000  # validation embeddings shown in the t-SNE plot at most


def save_array(run: RunDir, name: str, array: np.ndarray) -> None:
    """Atomically save a .npy file (plain arrays only: ``allow_pickle=False``)."""
    with io.atomic_path(run.file(name)) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def write_artifacts(
    run: RunDir,
    rows: list[dict[str, Any]],
    metrics: FinalMetrics,
    embedding: bool,
    *,
    tsne: bool = True,
) -> None:
    """Write probabilities, the full metrics JSON and the plots of a finished run.

    The t-SNE plot is drawn for embedding runs when ``tsne`` (the run's ``tsne`` setting)."""
    save_array(run, "val_probs.npy", metrics.val_probs.astype(np.float32))
    save_array(run, "val_labels.npy", metrics.val_labels.astype(np.int64))
    save_array(run, "test_probs.npy", metrics.test_probs.astype(np.float32))
    io.write_json(
        run.file("metrics.json"),
        {
            **metrics.summary(),
            "classes": [str(c) for c in metrics.classes],
            "confusion": metrics.confusion.tolist(),
        },
    )
    plot_curves(run, rows, metrics.metric)
    plot_confusion(run, metrics.confusion, metrics.classes)
    if embedding and tsne and metrics.val_embeddings is not None:
        plot_tsne(run, metrics.val_embeddings, metrics.val_labels, metrics.classes)


@dataclass(frozen=True)
class CurveLabels:
    """What curves.png says: the validation panel's title and y label, and each stage's line."""

    title: str  # e.g. "validation log loss / kNN accuracy"
    ylabel: str  # e.g. "log loss / kNN accuracy"
    lines: dict[str, tuple[str, str]]  # stage -> (row key plotted, legend label)


def curve_labels(rows: list[dict[str, Any]], metric: str = "accuracy") -> CurveLabels:
    """The labels of the validation curves of ``rows`` for a run scored by ``metric``.

    A stage scored by kNN (an embedding run's encoder stage) plots its kNN accuracy; any
    other stage plots the metric's value as reported (``value``: log loss goes down, where the
    ``score`` the loop compares is negated), or ``score`` when a row has no value."""
    title = _metric_title(metric)
    knn_unit = "accuracy" if title == "accuracy" else "kNN accuracy"
    units: dict[str, None] = {}
    lines: dict[str, tuple[str, str]] = {}
    for stage in dict.fromkeys(r["stage"] for r in rows):
        first = next(r for r in rows if r["stage"] == stage)
        if "val_knn_acc" in first:
            lines[stage] = ("val_knn_acc", f"{stage} (kNN acc)")
            units[knn_unit] = None
        else:
            lines[stage] = ("value" if "value" in first else "score", f"{stage} (val {title})")
            units[title] = None
    ylabel = " / ".join(sorted(units, key=lambda u: u != title))  # the metric first
    return CurveLabels(title=f"validation {ylabel}", ylabel=ylabel, lines=lines)


def plot_curves(run: RunDir, rows: list[dict[str, Any]], metric: str = "accuracy") -> None:
    """Loss and validation ``metric`` per evaluation, one line per stage (curves.png)."""
    if rows:
        _save_fig(run, curves_figure(rows, metric), "curves.png")


def curves_figure(rows: list[dict[str, Any]], metric: str = "accuracy") -> Any:
    """The figure of curves.png, unsaved (the caller saves and closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = curve_labels(rows, metric)
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 4))
    for stage, (key, label) in labels.lines.items():
        part = [r for r in rows if r["stage"] == stage]
        evals = [r["eval"] for r in part]
        ax_loss.plot(evals, [r["train_loss"] for r in part], label=stage)
        ax_val.plot(evals, [_number(r.get(key)) for r in part], label=label)
    ax_loss.set(title="training loss", xlabel="evaluation", ylabel="loss")
    ax_val.set(title=labels.title, xlabel="evaluation", ylabel=labels.ylabel)
    for ax in (ax_loss, ax_val):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def _number(value: Any) -> float:
    """A plotted value: None (no validation split) is a gap."""
    return float("nan") if value is None else float(value)


def _metric_title(metric: str) -> str:
    """The metric's title ("log loss" for log_loss); the name itself if it is not known."""
    from toolkit.metrics import get_metric

    try:
        return str(get_metric(metric).title)
    except ToolkitError:
        return metric


def plot_confusion(run: RunDir, confusion: np.ndarray, classes: list[Any]) -> None:
    """The validation confusion matrix, class names on both axes (confusion.png)."""
    if confusion.size == 0:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    k = len(classes)
    side = min(3.5 + 0.35 * k, 24.0)  # room for the class names; 100 classes stay readable
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    ConfusionMatrixDisplay(confusion, display_labels=[str(c) for c in classes]).plot(
        ax=ax,
        cmap="Blues",
        include_values=k <= 20,  # counts in the cells only while they fit
        xticks_rotation="vertical" if k > 10 else "horizontal",
        colorbar=True,
    )
    ax.set(
        title=f"Confusion matrix, validation split ({int(confusion.sum())} images)",
        xlabel="predicted class",
        ylabel="true class",
    )
    fig.tight_layout()
    _save_fig(run, fig, "confusion.png")


def plot_tsne(run: RunDir, emb: np.ndarray, labels: np.ndarray, classes: list[Any]) -> None:
    """t-SNE of validation embeddings coloured by class (tsne.png)."""
    if len(emb) < 5:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(0)
    pick = rng.permutation(len(emb))[:TSNE_POINTS]
    perplexity = float(min(30, max(2, (len(pick) - 1) // 3)))
    from threadpoolctl import threadpool_limits

    # One thread: scikit-learn's OpenMP threads fight torch's idle ones for the cores (on 2
    # cores a digits t-SNE took 7-29 s with two threads, 1-2 s with one).
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=0, n_jobs=1)
    with threadpool_limits(limits=1):
        xy = tsne.fit_transform(emb[pick].astype(np.float32))
    fig, ax = plt.subplots(figsize=(7, 6))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for i, name in enumerate(classes):
        sel = labels[pick] == i
        ax.scatter(xy[sel, 0], xy[sel, 1], s=6, color=cmap(i % cmap.N), label=str(name))
    ax.set(title="t-SNE of validation embeddings", xticks=[], yticks=[])
    if len(classes) <= 20:
        ax.legend(markerscale=3, fontsize=8, loc="best")
    fig.tight_layout()
    _save_fig(run, fig, "tsne.png")


def _save_fig(run: RunDir, fig: Any, name: str) -> None:
    import matplotlib.pyplot as plt

    try:
        with io.atomic_path(run.file(name)) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:  # a failed write (disk full) closes the figure too
        plt.close(fig)
