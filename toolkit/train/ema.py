"""An exponential moving average (EMA) of a stage's weights, updated after every step.

The average covers everything the modules' ``state_dict`` holds: parameters and floating
buffers move towards the trained values by ``1 - decay`` each step (one ``torch._foreach_lerp_``
over all of them), integer buffers (BatchNorm's ``num_batches_tracked``) are copied. Averaging
BatchNorm's running statistics with the weights (as timm's ``ModelEmaV3`` does) keeps them
following the averaged weights, so the EMA is scored with statistics of its own; while they
have not settled (the first 100 steps) an evaluation recomputes them for whatever weights it
scores (:func:`toolkit.train.evaluate.batchnorm_settled`), the EMA's included.
``torch.optim.swa_utils.AveragedModel`` would average ``num_batches_tracked`` as a float and
truncate it, and keeps a deep copy of the modules; this keeps tensors only.

The decay warms up as TensorFlow's ``ExponentialMovingAverage(num_updates=...)`` does:
``min(decay, (1 + n) / (10 + n))`` at update ``n``, so a short run averages its recent steps
rather than its random initial weights.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


class EMA:
    """The moving average of ``modules``' state; :meth:`applied` puts it in them for a while."""

    def __init__(self, modules: list[nn.Module], decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.modules = modules
        self.decay = decay
        self.updates = 0
        live = self._live()
        self.average = [t.detach().clone() for t in live]

    def _live(self) -> list[torch.Tensor]:
        """The modules' tensors in ``state_dict`` order (they share the weights' storage)."""
        return [t for m in self.modules for t in m.state_dict().values()]

    def current_decay(self) -> float:
        """The decay of the next update: ``decay``, smaller for the first updates."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the modules' current state (call after each step)."""
        weight = 1.0 - self.current_decay()
        floats, targets = [], []
        for avg, cur in zip(self.average, self._live(), strict=True):
            if avg.is_floating_point():
                floats.append(avg)
                targets.append(cur)
            else:
                avg.copy_(cur)
        if floats:
            torch._foreach_lerp_(floats, targets, weight)
        self.updates += 1

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """The average in the modules for the ``with`` block; their own state comes back after
        (exactly, whatever the block changed: an evaluation may recompute BatchNorm statistics)."""
        live = self._live()
        saved = [t.clone() for t in live]
        with torch.no_grad():
            torch._foreach_copy_(live, self.average)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self._live(), saved)
