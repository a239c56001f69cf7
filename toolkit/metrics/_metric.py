"""A metric by the name users type (``--metric log_loss``, ``map@3``): what it needs, which way
is better, and how to compute it."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.metrics import _compute

METRIC_NAMES = (
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "f1_micro",
    "log_loss",
    "roc_auc",
    "qwk",
    "map@k",
)
NEEDS = ("labels", "probabilities", "ranking")

# name -> (title, direction, needs, function); map@k's title gets its k
_TABLE: dict[str, tuple[str, str, str, _compute.Compute]] = {
    "accuracy": ("accuracy", "maximize", "labels", _compute.accuracy),
    "balanced_accuracy": ("balanced accuracy", "maximize", "labels", _compute.balanced_accuracy),
    "f1_macro": ("F1 (macro)", "maximize", "labels", _compute.f1_macro),
    "f1_micro": ("F1 (micro)", "maximize", "labels", _compute.f1_micro),
    "log_loss": ("log loss", "minimize", "probabilities", _compute.log_loss),
    "roc_auc": ("ROC AUC", "maximize", "probabilities", _compute.roc_auc),
    "qwk": ("QWK", "maximize", "labels", _compute.qwk),
    "map@k": ("MAP@{k}", "maximize", "ranking", _compute.map_at_k),
}
_MAP = re.compile(r"map@([0-9]+)\Z")


@dataclass(frozen=True)
class Metric:
    """One leaderboard metric; call it as ``metric(y, probs)``."""

    name: str  # as users type it, e.g. "log_loss", "map@5"
    title: str  # for tables, e.g. "log loss", "MAP@5"
    direction: str  # "maximize" | "minimize"
    needs: str  # "labels" (argmax), "probabilities" or "ranking" (order of the scores)
    k: int = 1  # ranks counted by map@k; 1 otherwise

    @property
    def family(self) -> str:
        """The entry of :data:`METRIC_NAMES` this metric is (``map@k`` for ``map@3``)."""
        return "map@k" if self.name.startswith("map@") else self.name

    def __call__(self, y: np.ndarray, probs: np.ndarray) -> float:
        """The metric of true class indices ``y`` (N,) against scores ``probs`` (N, K)."""
        y = np.asarray(y).astype(np.int64, copy=False)
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim != 2 or y.shape != (len(probs),) or len(y) == 0:
            raise ValueError(
                f"{self.name} needs y (N,) and probs (N, K) with N > 0; got y {y.shape} and "
                f"probs {probs.shape}."
            )
        if y.min() < 0 or y.max() >= probs.shape[1]:
            raise ValueError(
                f"{self.name}: y holds class indices outside 0..{probs.shape[1] - 1}."
            )
        return _TABLE[self.family][3](y, probs, self.k)

    def oriented(self, value: float) -> float:
        """``value`` turned so that higher is better (negated for a loss)."""
        return value if self.direction == "maximize" else -value

    def better(self, a: float, b: float) -> bool:
        """True when score ``a`` is strictly better than score ``b``."""
        return self.oriented(a) > self.oriented(b)


def get_metric(name: str, *, k: int = 5) -> Metric:
    """The metric called ``name`` (``map@3`` takes its k from the name, ``map@k`` uses ``k``)."""
    key = name.strip().lower().replace("-", "_")
    match = _MAP.match(key)
    if match or key in ("map@k", "map"):
        k = int(match.group(1)) if match else k
        if k < 1:
            raise ToolkitError(f"metric {name!r} needs k >= 1; pass e.g. --metric map@5.")
        title, direction, needs, _ = _TABLE["map@k"]
        return Metric(f"map@{k}", title.format(k=k), direction, needs, k)
    if key not in _TABLE:
        close = difflib.get_close_matches(key, METRIC_NAMES, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ToolkitError(
            f"unknown metric {name!r}; {hint}pass --metric one of {', '.join(METRIC_NAMES)} "
            "(map@3 sets k)."
        )
    title, direction, needs, _ = _TABLE[key]
    return Metric(key, title, direction, needs)
