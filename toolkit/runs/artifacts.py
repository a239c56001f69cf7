"""Run artifacts beside the checkpoint: probabilities, metrics, curves and a t-SNE plot."""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit import io
from toolkit.runs.results import FinalMetrics
from toolkit.runs.store import RunDir

TSNE_POINTS = 2000  # validation embeddings shown in the t-SNE plot at most


def save_array(run: RunDir, name: str, array: np.ndarray) -> None:
    """Atomically save a .npy file (plain arrays only: ``allow_pickle=False``)."""
    with io.atomic_path(run.file(name)) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def write_artifacts(
    run: RunDir, rows: list[dict[str, Any]], metrics: FinalMetrics, embedding: bool
) -> None:
    """Write probabilities, the full metrics JSON and the plots of a finished run."""
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
    plot_curves(run, rows)
    if embedding and metrics.val_embeddings is not None:
        plot_tsne(run, metrics.val_embeddings, metrics.val_labels, metrics.classes)


def plot_curves(run: RunDir, rows: list[dict[str, Any]]) -> None:
    """Loss and validation score per evaluation, one line per stage (curves.png)."""
    if not rows:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for stage in dict.fromkeys(r["stage"] for r in rows):
        part = [r for r in rows if r["stage"] == stage]
        evals = [r["eval"] for r in part]
        ax_loss.plot(evals, [r["train_loss"] for r in part], label=stage)
        label = "kNN acc" if "val_knn_acc" in part[0] else "val acc"
        ax_acc.plot(evals, [r["score"] for r in part], label=f"{stage} ({label})")
    ax_loss.set(title="training loss", xlabel="evaluation", ylabel="loss")
    ax_acc.set(title="validation accuracy", xlabel="evaluation", ylabel="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    _save_fig(run, fig, "curves.png")


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
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=0).fit_transform(
        emb[pick].astype(np.float32)
    )
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

    with io.atomic_path(run.file(name)) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
