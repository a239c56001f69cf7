"""Run artifacts: the confusion matrix is drawn with the class names; t-SNE only when asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from toolkit.runs.store import RunDir


def test_the_confusion_matrix_names_the_classes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    from toolkit.runs.artifacts import plot_confusion

    seen: dict[str, Any] = {}
    original = Figure.savefig

    def savefig(fig: Figure, *args: Any, **kwargs: Any) -> Any:
        ax = fig.axes[0]
        seen["x"] = [t.get_text() for t in ax.get_xticklabels()]
        seen["y"] = [t.get_text() for t in ax.get_yticklabels()]
        seen["cells"] = sorted(t.get_text() for t in ax.texts)
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    classes = ["cat", "dog", "[bird]"]
    confusion = np.array([[5, 1, 0], [2, 7, 0], [0, 0, 3]])
    plot_confusion(RunDir(tmp_path), confusion, classes)
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert seen["x"] == classes and seen["y"] == classes
    assert seen["cells"] == sorted(str(v) for v in confusion.ravel())


def test_tsne_is_drawn_only_for_embedding_runs_that_want_it(tmp_path: Path) -> None:
    from toolkit.runs.artifacts import write_artifacts
    from toolkit.runs.results import FinalMetrics

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 10)
    fields = FinalMetrics.__dataclass_fields__
    values: dict[str, Any] = {
        "train_acc": 1.0,
        "val_acc": 1.0,
        "test_acc": None,
        "knn_acc": None,
        "classes": ["a", "b", "c"],
        "val_per_class": np.ones(3),
        "confusion": np.diag([10, 10, 10]),
        "val_probs": np.eye(3)[labels],
        "val_labels": labels,
        "test_probs": np.eye(3)[labels],
        "val_embeddings": rng.normal(size=(30, 4)) + labels[:, None],
    }
    metrics = FinalMetrics(**{k: values.get(k) for k in fields if k in values})
    for name, embedding, tsne in (("a", True, False), ("b", False, True), ("c", True, True)):
        run = RunDir(tmp_path / name)
        run.path.mkdir()
        write_artifacts(run, [], metrics, embedding, tsne=tsne)
        assert (run.path / "confusion.png").is_file()
        assert (run.path / "tsne.png").is_file() == (name == "c")
