"""Bootstrap intervals and the paired bootstrap (toolkit.metrics._bootstrap): the interval
covers a synthetic classifier's true accuracy at about its stated rate, the vectorised
resamples equal the metric computed on each resample, and a paired comparison tells a real
difference from noise."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.metrics import (
    METRIC_NAMES,
    bootstrap_interval,
    get_metric,
    paired_bootstrap,
    within_noise,
)
from toolkit.metrics._bootstrap import _indices, resampled


def classifier(rng: np.random.Generator, n: int, p: float, k: int = 3) -> tuple[np.ndarray, ...]:
    """Labels and probabilities whose argmax is right with probability ``p`` per image."""
    y = rng.integers(0, k, n)
    right = rng.random(n) < p
    guess = np.where(right, y, (y + rng.integers(1, k, n)) % k)
    probs = np.full((n, k), 0.1 / (k - 1))
    probs[np.arange(n), guess] = 0.9
    return y, probs


def test_interval_covers_the_true_accuracy_at_the_stated_rate() -> None:
    rng = np.random.default_rng(0)
    metric, p, draws = get_metric("accuracy"), 0.84, 200
    hits = 0
    for i in range(draws):
        y, probs = classifier(rng, 400, p)
        low, high = bootstrap_interval(metric, probs, y, n=1000, level=0.95, seed=i)
        assert low <= metric(y, probs) <= high
        hits += low <= p <= high
    # 95% of 200 draws is 190; a binomial(200, 0.95) is within 180..199 with >99.9% chance
    assert 180 <= hits <= 199, hits


def test_a_wider_level_and_fewer_images_give_wider_intervals() -> None:
    y, probs = classifier(np.random.default_rng(1), 2000, 0.8)
    metric = get_metric("accuracy")
    lo90, hi90 = bootstrap_interval(metric, probs, y, level=0.90)
    lo99, hi99 = bootstrap_interval(metric, probs, y, level=0.99)
    assert lo99 < lo90 < hi90 < hi99
    slo, shi = bootstrap_interval(metric, probs[:200], y[:200])
    assert shi - slo > 2 * (hi90 - lo90)


@pytest.mark.parametrize("name", [*METRIC_NAMES[:-1], "map@3"])
@pytest.mark.parametrize("k", [2, 5])
def test_vectorised_resamples_equal_the_metric_on_each_resample(name: str, k: int) -> None:
    rng = np.random.default_rng(k)
    n = 120
    y = rng.integers(0, k, n)
    y[: n - 2] = np.where(y[: n - 2] == k - 1, 0, y[: n - 2])  # class k-1: two images
    y[-2:] = k - 1
    probs = rng.dirichlet(np.ones(k), n)
    probs[np.arange(n), y] += 0.4
    probs = np.round(probs / probs.sum(1, keepdims=True), 2)  # ties in the scores
    metric = get_metric(name)
    fast = resampled(metric, probs, y, 30, seed=5)
    idx = next(_indices(n, 30, 5))
    slow = []
    for row in idx:
        try:
            slow.append(metric(y[row], probs[row]))
        except Exception:
            slow.append(np.nan)
    np.testing.assert_allclose(fast, np.asarray(slow), rtol=1e-9, atol=1e-12)


def test_roc_auc_skips_resamples_with_one_class() -> None:
    y = np.array([0] * 99 + [1])
    probs = np.column_stack([1 - np.linspace(0, 1, 100), np.linspace(0, 1, 100)])
    values = resampled(get_metric("roc_auc"), probs, y, 200, seed=0)
    assert np.isnan(values).any() and np.isfinite(values).any()
    assert np.nanmin(values) == 1.0  # the one positive outscores every negative


def test_paired_bootstrap_tells_a_real_difference_from_noise() -> None:
    rng = np.random.default_rng(2)
    y, good = classifier(rng, 1000, 0.9)
    # another classifier on the same labels: the good one's answer on 60% of the images
    bad = np.where((rng.random(1000) < 0.6)[:, None], good, np.roll(good, 1, axis=1))
    metric = get_metric("accuracy")
    real = paired_bootstrap(metric, good, bad, y)
    assert real >= 0.95 and not within_noise(real)
    assert paired_bootstrap(metric, bad, good, y) <= 0.05
    assert paired_bootstrap(metric, good, good, y) == 0.5 and within_noise(0.5)
    near = good.copy()
    near[:3] = np.roll(near[:3], 1, axis=1)  # three images changed out of 1000
    assert within_noise(paired_bootstrap(metric, good, near, y))
    loss = get_metric("log_loss")  # a loss: lower is better, still "a beats b"
    assert paired_bootstrap(loss, good, bad, y) >= 0.95


def test_bad_arguments_are_refused() -> None:
    metric = get_metric("accuracy")
    y, probs = classifier(np.random.default_rng(4), 10, 0.5)
    with pytest.raises(ValueError):
        bootstrap_interval(metric, probs, y, level=1.5)
    with pytest.raises(ValueError):
        paired_bootstrap(metric, probs, probs[:, :2], y)
