"""How much of a validation score is noise: bootstrap intervals over the validation images.

- :func:`bootstrap_interval`: the ``level`` percentile interval of a metric over ``n``
  resamples (with replacement) of the validation images
- :func:`paired_bootstrap`: the share of those resamples in which model a scores better than
  model b on the same images (0.5: no difference at all); below :data:`REAL_DIFFERENCE` (and
  above 1 - it) the difference is within noise

Vectorised: each chunk of resamples is one index matrix. Metrics that are a mean over images
(accuracy, F1 micro, log loss, MAP@k) average per-image values; those computed from the
confusion matrix (balanced accuracy, F1 macro, QWK) build one confusion matrix per resample
with a single ``bincount``; ROC AUC weighs each image by how often a resample drew it. A
resample on which the metric is undefined (one class only for ROC AUC, QWK's all-one-class
case) is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.metrics._metric import Metric

RESAMPLES = 1000  # bootstrap resamples of the validation images
LEVEL = 0.95  # the interval's coverage
REAL_DIFFERENCE = 0.95  # a beats b in at least this share of resamples: a real difference
CHUNK_CELLS = 2_000_000  # resampled indices held at once (16 MB of int64)

_PER_IMAGE = ("accuracy", "f1_micro", "log_loss", "map@k")
_CONFUSION = ("balanced_accuracy", "f1_macro", "qwk")


def bootstrap_interval(
    metric: Metric,
    probs: np.ndarray,
    labels: np.ndarray,
    n: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> tuple[float, float]:
    """The percentile bootstrap interval ``(low, high)`` of ``metric(labels, probs)`` over ``n``
    resamples of the images; ``(nan, nan)`` when fewer than half the resamples have a value
    (the metric is undefined on most of them)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}.")
    y, p = _checked(metric, probs, labels)
    values = resampled(metric, p, y, n, seed)
    values = values[np.isfinite(values)]
    if len(values) < n / 2:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def paired_bootstrap(
    metric: Metric,
    probs_a: np.ndarray,
    probs_b: np.ndarray,
    labels: np.ndarray,
    n: int = RESAMPLES,
    seed: int = 0,
) -> float:
    """The probability that model a scores better than model b by ``metric`` on these images:
    the share of ``n`` paired resamples (the same images for both) in which a is better, a tie
    counting half. 0.5 for identical predictions; at least :data:`REAL_DIFFERENCE` (or at
    most 1 - it) is a real difference. nan when the metric is undefined on most resamples."""
    y, pa = _checked(metric, probs_a, labels)
    _, pb = _checked(metric, probs_b, labels)
    if pa.shape != pb.shape:
        raise ValueError(f"probs_a {pa.shape} and probs_b {pb.shape} differ in shape.")
    a = resampled(metric, pa, y, n, seed)
    b = resampled(metric, pb, y, n, seed)  # the same seed: the same resamples
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < n / 2:
        return float("nan")
    diff = metric.oriented(1.0) * (a[ok] - b[ok])  # turned so that > 0: a is better
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def within_noise(probability: float) -> bool:
    """A :func:`paired_bootstrap` probability that does not show a real difference."""
    return not np.isfinite(probability) or (1 - REAL_DIFFERENCE < probability < REAL_DIFFERENCE)


def resampled(metric: Metric, probs: np.ndarray, y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``metric`` on each of ``n`` seeded resamples of the images, (n,); nan where undefined."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    family = metric.family
    if family in _PER_IMAGE:
        per_image = _per_image(metric, probs, y)
        return np.concatenate([per_image[idx].mean(axis=1) for idx in _indices(len(y), n, seed)])
    if family in _CONFUSION:
        k = probs.shape[1]
        codes = y * k + probs.argmax(1)
        out = []
        for idx in _indices(len(y), n, seed):
            rows = np.arange(len(idx))[:, None] * (k * k)
            flat = np.bincount((rows + codes[idx]).ravel(), minlength=len(idx) * k * k)
            out.append(_from_confusion(family, flat.reshape(len(idx), k, k)))
        return np.concatenate(out)
    if family == "roc_auc":
        return np.concatenate([_roc_auc(probs, y, idx) for idx in _indices(len(y), n, seed)])
    values = []  # a metric without a vectorised form: one call per resample
    for idx in _indices(len(y), n, seed):
        for row in idx:
            try:
                values.append(metric(y[row], probs[row]))
            except (ToolkitError, ValueError):  # undefined on this resample: skipped
                values.append(float("nan"))
    return np.asarray(values, dtype=np.float64)


def _checked(metric: Metric, probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, ...]:
    y = np.asarray(labels).astype(np.int64, copy=False)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or y.shape != (len(p),) or len(y) == 0:
        raise ValueError(
            f"{metric.name} needs labels (N,) and probs (N, K) with N > 0; got labels "
            f"{y.shape} and probs {p.shape}."
        )
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"{metric.name}: labels hold class indices outside 0..{p.shape[1] - 1}.")
    return y, p


def _indices(size: int, n: int, seed: int) -> Iterator[np.ndarray]:
    """``n`` rows of ``size`` image indices drawn with replacement, a chunk at a time."""
    rng = np.random.default_rng(seed)
    step = max(1, CHUNK_CELLS // size)
    for start in range(0, n, step):
        yield rng.integers(0, size, size=(min(step, n - start), size))


def _per_image(metric: Metric, probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each image's share of a metric that is a mean over images (as :mod:`._compute` has it)."""
    family = metric.family
    if family in ("accuracy", "f1_micro"):  # single-label micro F1 is accuracy
        return (probs.argmax(1) == y).astype(np.float64)
    if family == "log_loss":  # scikit-learn: rows renormalised, clipped to [eps, 1 - eps]
        sums = probs.sum(axis=1, keepdims=True)
        rows = probs / np.where(sums > 0, sums, 1.0)
        eps = np.finfo(np.float64).eps
        return -np.log(np.clip(rows[np.arange(len(y)), y], eps, 1 - eps))
    top = np.argsort(-probs, axis=1, kind="stable")[:, : metric.k]  # map@k, as map_at_k
    ranked = np.take_along_axis(probs, top, axis=1) > 0
    hits = (top == y[:, None]) & ranked
    return (hits / np.arange(1, top.shape[1] + 1)).sum(axis=1)


def _from_confusion(family: str, cm: np.ndarray) -> np.ndarray:
    """The metric of each confusion matrix in ``cm`` (R, K, K), rows = true class; nan where
    scikit-learn's value is undefined."""
    cm = cm.astype(np.float64)
    true, pred, hit = cm.sum(axis=2), cm.sum(axis=1), np.diagonal(cm, axis1=1, axis2=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if family == "balanced_accuracy":  # mean recall over the classes present in y
            recall = np.where(true > 0, hit / true, 0.0)
            return recall.sum(axis=1) / (true > 0).sum(axis=1)
        if family == "f1_macro":  # over the classes in y or in the predictions; 0/0 -> 0
            seen = (true + pred) > 0
            f1 = np.where(seen, 2 * hit / (true + pred), 0.0)
            return f1.sum(axis=1) / seen.sum(axis=1)
        k = cm.shape[1]  # qwk
        weights = (np.arange(k)[:, None] - np.arange(k)[None, :]) ** 2.0
        expected = pred[:, None, :] * true[:, :, None] / cm.sum(axis=(1, 2))[:, None, None]
        kappa = 1 - (weights * cm).sum(axis=(1, 2)) / (weights * expected).sum(axis=(1, 2))
        return np.where(np.isfinite(kappa), kappa, np.nan)


def _roc_auc(probs: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """ROC AUC of each resample in ``idx`` (R, N), as :func:`._compute.roc_auc` has it: binary,
    the second class's score; all classes present, one-vs-rest macro on rows summing to one;
    some absent, the mean over those present (raw scores); nan with one class only."""
    r, size = idx.shape
    weights = np.bincount((np.arange(r)[:, None] * size + idx).ravel(), minlength=r * size)
    weights = weights.reshape(r, size).astype(np.float64)
    k = probs.shape[1]
    if k == 2:
        return _weighted_auc(probs[:, 1], y == 1, weights)
    sums = probs.sum(axis=1, keepdims=True)
    rows = probs / np.where(sums > 0, sums, 1.0)
    count = np.stack([weights[:, y == c].sum(axis=1) for c in range(k)], axis=1)  # (R, K)
    present = count > 0
    raw = np.stack([_weighted_auc(probs[:, c], y == c, weights) for c in range(k)], axis=1)
    norm = raw
    if not np.array_equal(rows, probs):
        norm = np.stack([_weighted_auc(rows[:, c], y == c, weights) for c in range(k)], axis=1)
    every = present.all(axis=1)
    with np.errstate(invalid="ignore"):
        some = np.where(present, raw, 0.0).sum(axis=1) / present.sum(axis=1)
    out = np.where(every, np.nanmean(np.where(present, norm, np.nan), axis=1), some)
    return np.where(present.sum(axis=1) >= 2, out, np.nan)


def _weighted_auc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The AUC of ``scores`` for ``positive`` under each row of image ``weights`` (R, N): the
    chance a positive outscores a negative, ties counting half; nan without both."""
    order = np.argsort(scores, kind="stable")
    ranked = scores[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # groups of tied scores
    w = weights[:, order]
    pos = np.add.reduceat(w * positive[order], starts, axis=1)
    neg = np.add.reduceat(w * ~positive[order], starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pairs > 0, (pos * (below + 0.5 * neg)).sum(axis=1) / pairs, np.nan)
