"""What a finished run measured: the summary in run.json and the arrays saved beside it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class FinalMetrics:
    """Everything measured at the end of a run (arrays are saved beside the summary)."""

    classes: list[Any]
    train_acc: float
    val_acc: float | None  # None: no validation split (val_fraction = 0)
    val_per_class: np.ndarray  # (K,) recall per class
    confusion: np.ndarray  # (K, K) rows = true class
    val_probs: np.ndarray  # (Nv, K)
    val_labels: np.ndarray  # (Nv,)
    test_probs: np.ndarray  # (M, K), in the competition's test order
    test_acc: float | None  # when the competition has an answer key
    knn_acc: float | None  # embedding runs: kNN accuracy of the final embeddings
    val_embeddings: np.ndarray | None  # embedding runs: (Nv, D) for the t-SNE plot
    metric: str = "accuracy"  # the competition's metric (toolkit.metrics name)
    val_score: float | None = None  # that metric on the validation split
    test_score: float | None = None  # and on the answer key, when there is one

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "train_acc": round(self.train_acc, 5),
            "val_acc": None if self.val_acc is None else round(self.val_acc, 5),
            "per_class_val_acc": {
                str(c): (None if np.isnan(a) else round(float(a), 5))
                for c, a in zip(self.classes, self.val_per_class, strict=True)
            },
        }
        if self.test_acc is not None:
            out["test_acc"] = round(self.test_acc, 5)
        if self.knn_acc is not None:
            out["val_knn_acc"] = round(self.knn_acc, 5)
        out["metric"] = self.metric
        out["val_score"] = _rounded(self.val_score)
        if self.test_score is not None:
            out["test_score"] = _rounded(self.test_score)
        return out


def _rounded(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 5)
