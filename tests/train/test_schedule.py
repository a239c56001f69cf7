"""Learning-rate schedule and early-stopping rules, on scripted sequences."""

from __future__ import annotations

import pytest

from toolkit.train.schedule import EarlyStopping, lr_factor


def test_warmup_then_cosine_ends_at_zero() -> None:
    assert lr_factor(0.0, 0.1, "cosine") == 0.0
    assert lr_factor(0.05, 0.1, "cosine") == pytest.approx(0.5)
    assert lr_factor(0.1, 0.1, "cosine") == pytest.approx(1.0)
    assert lr_factor(0.55, 0.1, "cosine") == pytest.approx(0.5)
    assert lr_factor(1.0, 0.1, "cosine") == pytest.approx(0.0, abs=1e-12)


def test_linear_and_constant() -> None:
    assert lr_factor(0.5, 0.0, "linear") == pytest.approx(0.5)
    assert lr_factor(0.9, 0.0, "constant") == 1.0
    assert lr_factor(2.0, 0.0, "linear") == 0.0  # clamped past the end


def test_last_k_stops_when_new_value_beats_none_of_the_last_k() -> None:
    rule = EarlyStopping("last-k", patience=3)
    # 0.5, 0.6, 0.7: not enough history yet; 0.65 beats 0.5 and 0.6 -> go on.
    assert [rule.update(v) for v in (0.5, 0.6, 0.7, 0.65)] == [False] * 4
    # last three are 0.6, 0.7, 0.65; 0.6 beats none of them (ties do not count) -> stop.
    assert rule.update(0.6) is True
    assert rule.best == 0.7 and rule.best_index == 2


def test_last_k_keeps_going_while_any_recent_value_is_beaten() -> None:
    rule = EarlyStopping("last-k", patience=2)
    seq = [0.1, 0.5, 0.4, 0.45, 0.41, 0.44]
    assert [rule.update(v) for v in seq] == [False, False, False, False, False, False]
    assert rule.update(0.40) is True  # last two are 0.41, 0.44


def test_patience_stops_after_k_evaluations_without_a_new_best() -> None:
    rule = EarlyStopping("patience", patience=2)
    assert [rule.update(v) for v in (0.1, 0.3, 0.2, 0.3)] == [False, False, False, True]
    assert rule.best_index == 1


def test_none_never_stops_but_tracks_best() -> None:
    rule = EarlyStopping("none", patience=1)
    assert not any(rule.update(v) for v in (0.9, 0.1, 0.1, 0.1))
    assert rule.best == 0.9
    assert not rule.improved
