"""Temperature scaling: one temperature T fitted on validation probabilities, applied to test.

``softmax(log(p) / T)`` keeps each row's ranking (so labels, top-k and accuracy do not change)
and only sharpens (T < 1) or softens (T > 1) the probabilities; log-loss leaderboards punish an
over-confident model heavily, and T > 1 is the usual cure (Guo et al., 2017, "On Calibration of
Modern Neural Networks"). T is searched on log T within [:data:`T_MIN`, :data:`T_MAX`], a range
that holds T = 1, and falls back to 1 when the optimiser finds nothing better, so the
validation log loss never gets worse.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Temperature search range; T = 1 (no change) lies inside. Trained networks are off by a
# factor of 1-3 in log-odds; a split whose best T lies beyond 4x says more about the split
# (a near-chance model sharpened 13x once made a test log loss 0.70 -> 0.81) than the model.
T_MIN, T_MAX = 0.25, 4.0
EPS = 1e-6  # probabilities are kept in [EPS, 1 - EPS]: a written 0 or 1 costs infinite log loss
_TINY = 1e-300  # floor before log(p): a probability that underflowed to 0 stays finite


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """The T > 0 minimising the log loss of ``softmax(log(probs) / T)`` against ``y``.

    ``probs`` is (N, K) validation probabilities, ``y`` (N,) their true class indices.
    """
    from scipy.optimize import minimize_scalar

    logp, y = _check(probs, y)

    def loss(log_t: float) -> float:
        return _nll(logp / math.exp(log_t), y)

    found = minimize_scalar(
        loss, bounds=(math.log(T_MIN), math.log(T_MAX)), method="bounded", options={"xatol": 1e-4}
    )
    t = float(math.exp(found.x))
    return t if found.success and loss(found.x) < loss(0.0) else 1.0


def apply_temperature(probs: np.ndarray, t: float, eps: float = EPS) -> np.ndarray:
    """``softmax(log(probs) / t)`` (N, K), clipped to [eps, 1 - eps] and renormalised.

    Rows sum to 1 and no value is 0 or 1: after the clip a row sums to more than 1 - eps, so
    the largest value stays below 1 and the smallest above about eps / (1 + K * eps).
    """
    if not t > 0 or not math.isfinite(t):
        raise ValueError(f"the temperature must be a positive number, got {t}.")
    p = np.asarray(probs, dtype=np.float64)
    z = np.log(np.clip(p, _TINY, None)) / t  # (N, K)
    z -= z.max(axis=1, keepdims=True)
    out = np.exp(z)
    out /= out.sum(axis=1, keepdims=True)
    out = np.clip(out, eps, 1.0 - eps)
    return out / out.sum(axis=1, keepdims=True)


def calibrate(
    val_probs: np.ndarray, val_y: np.ndarray, test_probs: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit T on the validation set, apply it to ``test_probs`` (M, K).

    Returns the calibrated test probabilities and ``{"temperature", "val_log_loss_before",
    "val_log_loss_after", "held_out_gain", "eps"}`` for the provenance; both losses are of the
    validation probabilities clipped the same way, so ``after <= before`` always holds. The
    temperature stays 1 unless one fitted on half the split also helps the other half
    (``held_out_gain`` > 0).
    """
    y = np.asarray(val_y, dtype=np.int64)
    t = fit_temperature(val_probs, y)
    held_out = _held_out_gain(np.asarray(val_probs, dtype=np.float64), y)
    if held_out <= 0:  # a temperature fitted on half the images does not help the other half
        t = 1.0
    labels = np.arange(np.asarray(val_probs).shape[1])
    before = _log_loss(y, apply_temperature(val_probs, 1.0), labels)
    after = _log_loss(y, apply_temperature(val_probs, t), labels)
    if after > before:  # float noise between the optimiser's loss and scikit-learn's
        t, after = 1.0, before
    info = {
        "temperature": t,
        "val_log_loss_before": before,
        "val_log_loss_after": after,
        "held_out_gain": held_out,
        "eps": EPS,
    }
    return apply_temperature(test_probs, t), info


def _held_out_gain(probs: np.ndarray, y: np.ndarray) -> float:
    """How much a temperature lowers the log loss of images it was not fitted on: fitted on
    the even rows and scored on the odd ones, and the other way round (summed). A gain of 0 or
    less means the fitted temperature follows the split's noise (a small or near-chance
    validation split) and calibrating would hurt the test set."""
    gain = 0.0
    halves = (np.arange(0, len(y), 2), np.arange(1, len(y), 2))
    for fit_on, score_on in (halves, halves[::-1]):
        if len(fit_on) == 0 or len(score_on) == 0:
            return 0.0
        t = fit_temperature(probs[fit_on], y[fit_on])
        z = np.log(np.clip(probs[score_on], _TINY, None))
        gain += _nll(z, y[score_on]) - _nll(z / t, y[score_on])
    return float(gain)


def _check(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log probabilities (N, K), labels (N,)), after checking their shapes."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if p.ndim != 2 or y.shape != (len(p),) or len(p) == 0:
        raise ValueError(f"need probs (N, K) and y (N,) with N > 0; got {p.shape} and {y.shape}.")
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"y holds class indices outside 0..{p.shape[1] - 1}.")
    return np.log(np.clip(p, _TINY, None)), y


def _nll(z: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of logits ``z`` (N, K) for labels ``y`` (N,)."""
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))  # (N,)
    return float(np.mean(log_norm - z[np.arange(len(y)), y]))


def _log_loss(y: np.ndarray, probs: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y, probs, labels=labels))
