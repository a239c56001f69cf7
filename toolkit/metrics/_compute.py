"""The metric functions: ``(y, probs, k) -> float``, scikit-learn imported inside each.

``y`` is (N,) int class indices and ``probs`` (N, K) scores, one column per class, rows summing
to about 1. Label metrics score ``probs.argmax(1)`` (the first class on ties); ranking metrics
order each row by descending score, ties kept in class order (a stable sort).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from toolkit.errors import ToolkitError

Compute = Callable[[np.ndarray, np.ndarray, int], float]


def accuracy(y: np.ndarray, probs: np.ndarray, k: int) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y, probs.argmax(1)))


def balanced_accuracy(y: np.ndarray, probs: np.ndarray, k: int) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y, probs.argmax(1)))


def f1_macro(y: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Mean F1 over the classes that occur in ``y`` or in the predictions (scikit-learn's
    default label set); a class never predicted scores 0, not a warning."""
    from sklearn.metrics import f1_score

    return float(f1_score(y, probs.argmax(1), average="macro", zero_division=0))


def f1_micro(y: np.ndarray, probs: np.ndarray, k: int) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, probs.argmax(1), average="micro", zero_division=0))


def log_loss(y: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Multi-class (and binary) cross-entropy; ``labels=range(K)`` so a class absent from
    ``y`` still has its column. Rows are renormalised first, as Kaggle does."""
    from sklearn.metrics import log_loss as sk_log_loss

    return float(sk_log_loss(y, _rows_sum_to_one(probs), labels=np.arange(probs.shape[1])))


def roc_auc(y: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Binary: AUC of the second class's score. Several classes: one-vs-rest macro AUC; when a
    class is absent from ``y`` (its AUC is undefined) the mean runs over the classes present."""
    from sklearn.metrics import roc_auc_score

    present = np.unique(y)
    if len(present) < 2:
        raise ToolkitError(
            f"ROC AUC needs both positive and negative examples but every true label is class "
            f"{int(present[0]) if len(present) else '?'} (by index); score more rows or pick "
            "another --metric such as log_loss."
        )
    n_classes = probs.shape[1]
    if n_classes == 2:
        return float(roc_auc_score(y, probs[:, 1]))
    if len(present) == n_classes:
        return float(
            roc_auc_score(
                y,
                _rows_sum_to_one(probs),
                multi_class="ovr",
                average="macro",
                labels=np.arange(n_classes),
            )
        )
    return float(np.mean([roc_auc_score(y == c, probs[:, c]) for c in present]))


def qwk(y: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Quadratic weighted kappa; the weight of a disagreement is the squared distance between
    the two classes' ranks in the sorted class list."""
    from sklearn.metrics import cohen_kappa_score

    labels = np.arange(probs.shape[1])
    with warnings.catch_warnings():  # the undefined case is raised below, in one line
        warnings.simplefilter("ignore")
        value = float(cohen_kappa_score(y, probs.argmax(1), labels=labels, weights="quadratic"))
    if math.isnan(value):
        raise ToolkitError(
            "QWK is undefined when the true and the predicted labels are all one and the same "
            "class; score more rows or pick another --metric such as accuracy."
        )
    return value


def map_at_k(y: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Mean average precision at k with one true label per row (scikit-learn has none).

    With a single relevant label, a row's average precision is 1/rank of the true label when it
    is among the first k, else 0. A class scored exactly 0 is not ranked: a top-k file lists
    fewer than K labels, and the classes it leaves out must not earn credit by class order.
    """
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]  # (N, k) class indices, best first
    ranked = np.take_along_axis(probs, top, axis=1) > 0  # (N, k) listed, not a zero filler
    hits = (top == y[:, None]) & ranked  # (N, k) at most one True per row
    return float((hits / np.arange(1, top.shape[1] + 1)).sum(axis=1).mean())


def _rows_sum_to_one(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    sums = probs.sum(axis=1, keepdims=True)
    return probs / np.where(sums > 0, sums, 1.0)
