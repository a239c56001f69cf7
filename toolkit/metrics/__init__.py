"""Leaderboard metrics: one :class:`Metric` per name, computed from labels and probabilities.

- :mod:`._compute`: the functions (scikit-learn wherever it has the metric, MAP@k by hand)
- :mod:`._metric`: :class:`Metric`, :func:`get_metric` and the names users type (``--metric``)
- :mod:`._fit`: which metric suits which submission shape (:func:`check_metric`,
  :func:`default_metric`)
- :mod:`._bootstrap`: how much of a validation score is noise (:func:`bootstrap_interval`,
  :func:`paired_bootstrap`)

Importing this package imports numpy only; scikit-learn loads when a metric is computed.
"""

from toolkit.metrics._bootstrap import (
    REAL_DIFFERENCE,
    bootstrap_interval,
    paired_bootstrap,
    within_noise,
)
from toolkit.metrics._fit import check_metric, default_metric
from toolkit.metrics._metric import METRIC_NAMES, Metric, get_metric

__all__ = [
    "METRIC_NAMES",
    "REAL_DIFFERENCE",
    "Metric",
    "bootstrap_interval",
    "check_metric",
    "default_metric",
    "get_metric",
    "paired_bootstrap",
    "within_noise",
]
