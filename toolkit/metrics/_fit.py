"""Which metrics suit which submission shape (see :mod:`toolkit.data._submission`).

- ``label``: one label per row, so no probabilities: every metric but log_loss and roc_auc
  (map@k of one label is accuracy)
- ``probability`` and ``class-probabilities``: every metric
- ``top-k``: a ranked list without scores: map@k and accuracy (the first label)
- ``qwk`` treats classes as ordered ratings, so it needs integer classes
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.metrics._metric import METRIC_NAMES, Metric

KINDS = ("label", "probability", "class-probabilities", "top-k")  # toolkit.data._submission.KINDS
_DEFAULTS = {
    "label": "accuracy",
    "probability": "log_loss",
    "class-probabilities": "log_loss",
    "top-k": "map@k",
}
_FITS = {
    "label": tuple(n for n in METRIC_NAMES if n not in ("log_loss", "roc_auc")),
    "probability": METRIC_NAMES,
    "class-probabilities": METRIC_NAMES,
    "top-k": ("map@k", "accuracy"),
}


def default_metric(kind: str) -> str:
    """The metric a submission of ``kind`` is scored by unless ``--metric`` says otherwise."""
    _check_kind(kind)
    return _DEFAULTS[kind]


def check_metric(metric: Metric, kind: str, classes: Sequence[Any]) -> None:
    """Raise a one-line :class:`ToolkitError` when ``metric`` cannot score a ``kind`` file."""
    _check_kind(kind)
    fits = _FITS[kind]
    if metric.family not in fits:
        why = {
            "label": f"metric {metric.name} ({metric.title}) needs probabilities but a label "
            "submission holds one label per row",
            "top-k": f"metric {metric.name} ({metric.title}) cannot be computed from a top-k "
            "submission's ranked labels",
        }[kind]
        raise ToolkitError(
            f"{why}; pass --metric one of {', '.join(fits)}, or write probabilities with "
            "--set submission.kind=class-probabilities."
        )
    if metric.family == "qwk":
        bad = [c for c in classes if isinstance(c, bool) or not isinstance(c, numbers.Integral)]
        if bad:
            raise ToolkitError(
                f"qwk treats classes as ordered integer ratings but class {str(bad[0])!r} is "
                "not an integer; pick another --metric such as accuracy or f1_macro."
            )


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ToolkitError(f"unknown submission kind {kind!r}; use one of {', '.join(KINDS)}.")
