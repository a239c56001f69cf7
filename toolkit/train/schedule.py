"""Learning-rate schedules over training progress, and the early-stopping rules."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def lr_factor(progress: float, warmup: float, schedule: str) -> float:
    """Multiplier of the peak learning rate at ``progress`` in [0, 1] of training.

    Linear warm-up over the first ``warmup`` fraction, then ``schedule`` decays to 0 at 1.
    """
    progress = min(max(progress, 0.0), 1.0)
    if warmup > 0 and progress < warmup:
        return progress / warmup
    if schedule == "constant":
        return 1.0
    rest = (progress - warmup) / max(1.0 - warmup, 1e-9)
    if schedule == "linear":
        return 1.0 - rest
    return 0.5 * (1.0 + math.cos(math.pi * rest))


@dataclass
class EarlyStopping:
    """Decides, after each evaluation, whether training should stop.

    ``last-k`` is the course assignment's rule: stop when the new validation accuracy is not
    higher than any of the previous ``patience`` values (it beats none of them).
    ``patience`` is the common rule: stop after ``patience`` evaluations without a new best.
    ``none`` never stops. The best value and its evaluation index are tracked either way.
    """

    rule: str = "none"  # none | last-k | patience
    patience: int = 25  # evaluations looked back on
    history: list[float] = field(default_factory=list)
    best: float = -math.inf
    best_index: int = -1

    def update(self, value: float) -> bool:
        """Record ``value``; return True when training should stop."""
        previous = self.history[-self.patience :]
        self.history.append(value)
        if value > self.best:
            self.best, self.best_index = value, len(self.history) - 1
        if self.rule == "last-k":
            return len(previous) >= self.patience and all(value <= p for p in previous)
        if self.rule == "patience":
            return len(self.history) - 1 - self.best_index >= self.patience
        return False

    @property
    def improved(self) -> bool:
        """True when the latest value is the best so far."""
        return self.best_index == len(self.history) - 1
