"""Temperature scaling: fitted on validation probabilities, never worse there, labels unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss

from toolkit.submit.calibrate import EPS, apply_temperature, calibrate, fit_temperature


def synthetic(n: int, k: int, sharpness: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(probs (n, k), y (n,)) from a model whose logits are ``sharpness`` times too large."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.5
    z = logits * sharpness
    probs = np.exp(z - z.max(1, keepdims=True))
    return probs / probs.sum(1, keepdims=True), y


def test_over_confident_probabilities_get_a_temperature_above_one() -> None:
    val, val_y = synthetic(3000, 5, sharpness=4.0, seed=0)
    test, test_y = synthetic(3000, 5, sharpness=4.0, seed=1)
    t = fit_temperature(val, val_y)
    assert t > 1.5  # the logits were scaled by 4 (not exactly 4: they are not true posteriors)
    calibrated, info = calibrate(val, val_y, test)
    assert info["temperature"] == pytest.approx(t)
    assert info["val_log_loss_after"] < info["val_log_loss_before"] - 0.2
    assert info["eps"] == EPS
    assert log_loss(test_y, calibrated) < log_loss(test_y, apply_temperature(test, 1.0)) - 0.2
    assert (calibrated.argmax(1) == test.argmax(1)).all()  # labels do not change


def test_under_confident_probabilities_get_a_temperature_below_one() -> None:
    val, val_y = synthetic(3000, 3, sharpness=0.3, seed=2)
    assert fit_temperature(val, val_y) < 0.6


def test_calibrated_rows_sum_to_one_and_avoid_zero_and_one() -> None:
    probs = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1e-300, 1.0 - 1e-12, 1e-12]])
    for t in (0.05, 1.0, 20.0):
        out = apply_temperature(probs, t)
        np.testing.assert_allclose(out.sum(1), 1.0, atol=1e-12)
        assert (out > 0).all() and (out < 1).all() and out.min() >= EPS / 1.01
    with pytest.raises(ValueError, match="positive"):
        apply_temperature(probs, 0.0)


def test_calibration_never_makes_the_validation_loss_worse() -> None:
    for seed, sharpness in ((3, 1.0), (4, 0.9), (5, 1.1)):
        val, val_y = synthetic(200, 4, sharpness=sharpness, seed=seed)
        _, info = calibrate(val, val_y, val)
        assert info["val_log_loss_after"] <= info["val_log_loss_before"]
    val, val_y = synthetic(50, 2, sharpness=1.0, seed=6)
    _, info = calibrate(val, val_y, val[:5])
    assert 0.05 <= info["temperature"] <= 20.0


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="probs"):
        fit_temperature(np.ones((3, 2)) / 2, np.array([0, 1]))
    with pytest.raises(ValueError, match="outside"):
        fit_temperature(np.ones((2, 2)) / 2, np.array([0, 2]))


def test_a_temperature_that_only_fits_the_splits_noise_is_not_applied() -> None:
    """Near-chance probabilities on a small split: the best temperature on the whole split
    sharpens them, but one fitted on half of it does not help the other half."""
    from toolkit.submit.calibrate import calibrate

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 56)
    p1 = np.clip(0.5 + rng.normal(0, 0.02, 56), 0.01, 0.99)  # no signal at all
    probs = np.stack([1 - p1, p1], axis=1)
    test = np.array([[0.45, 0.55], [0.6, 0.4]])
    out, info = calibrate(probs, y, test)
    assert info["held_out_gain"] <= 0
    assert info["temperature"] == 1.0
    assert np.allclose(out, test, atol=1e-6)
