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


def _rows(metric: str) -> list[dict[str, Any]]:
    """Evaluation rows as the loop logs them: an encoder stage scored by kNN accuracy, then a
    head stage scored by ``metric`` (``score`` is the value turned so higher is better)."""
    from toolkit.metrics import get_metric

    rows: list[dict[str, Any]] = []
    for i, acc in ((1, 0.5), (2, 0.7)):
        rows.append({"eval": i, "stage": "encoder", "train_loss": 2.0 / i, "score": acc})
        rows[-1].update(value=acc, val_knn_acc=acc)
    for i, value in ((3, 0.9), (4, 0.6)):
        score = get_metric(metric).oriented(value)
        rows.append({"eval": i, "stage": "head", "train_loss": 1.0 / i, "score": score})
        rows[-1].update(value=value, val_acc=0.8)
    return rows


def test_the_curves_of_a_log_loss_run_are_labelled_log_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    from toolkit.runs.artifacts import curve_labels, curves_figure, plot_curves

    labels = curve_labels(_rows("log_loss"), "log_loss")
    assert labels.ylabel == "log loss / kNN accuracy"
    assert labels.title == "validation log loss / kNN accuracy"
    assert labels.lines == {
        "encoder": ("val_knn_acc", "encoder (kNN acc)"),
        "head": ("value", "head (val log loss)"),
    }

    fig = curves_figure(_rows("log_loss"), "log_loss")
    ax = fig.axes[1]
    assert "accuracy" not in ax.get_title().replace("kNN accuracy", "")
    assert ax.get_title() == labels.title and ax.get_ylabel() == labels.ylabel
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "encoder (kNN acc)",
        "head (val log loss)",
    ]
    head = ax.get_lines()[1]
    assert list(head.get_ydata()) == [0.9, 0.6]  # the log loss itself, not its negation

    seen: dict[str, str] = {}
    original = Figure.savefig

    def savefig(fig: Figure, *args: Any, **kwargs: Any) -> Any:
        seen["title"], seen["ylabel"] = fig.axes[1].get_title(), fig.axes[1].get_ylabel()
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    plot_curves(RunDir(tmp_path), _rows("log_loss"), "log_loss")  # what write_artifacts calls
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert seen == {"title": labels.title, "ylabel": labels.ylabel}


def test_an_accuracy_run_keeps_its_accuracy_labels() -> None:
    from toolkit.runs.artifacts import curve_labels

    labels = curve_labels(_rows("accuracy"), "accuracy")
    assert labels.title == "validation accuracy" and labels.ylabel == "accuracy"
    assert labels.lines["head"] == ("value", "head (val accuracy)")
    only_head = [r for r in _rows("f1_macro") if r["stage"] == "head"]
    assert curve_labels(only_head, "f1_macro").ylabel == "F1 (macro)"


def test_write_artifacts_labels_curves_with_the_runs_metric(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.runs import artifacts
    from toolkit.runs.results import FinalMetrics

    labels = np.repeat(np.arange(3), 4)
    metrics = FinalMetrics(
        classes=["a", "b", "c"],
        train_acc=1.0,
        val_acc=1.0,
        val_per_class=np.ones(3),
        confusion=np.diag([4, 4, 4]),
        val_probs=np.eye(3)[labels],
        val_labels=labels,
        test_probs=np.eye(3)[labels],
        test_acc=None,
        knn_acc=None,
        val_embeddings=None,
        metric="log_loss",
    )
    asked: list[str] = []
    original = artifacts.curves_figure

    def curves_figure(rows: list[dict[str, Any]], metric: str = "accuracy") -> Any:
        asked.append(metric)
        return original(rows, metric)

    monkeypatch.setattr(artifacts, "curves_figure", curves_figure)
    run = RunDir(tmp_path)
    artifacts.write_artifacts(run, _rows("log_loss"), metrics, embedding=True, tsne=False)
    assert asked == ["log_loss"] and (tmp_path / "curves.png").is_file()
