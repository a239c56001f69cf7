"""Lookahead of a stage's weights (Zhang et al. 2019, "Lookahead Optimizer: k steps forward,
1 step back"), called after every optimiser step.

The optimiser moves the modules' weights (the fast weights); every ``k`` steps the slow
weights move towards them by ``alpha`` and the fast weights start again from there::

    slow += alpha * (fast - slow);  fast = slow

As airbench94 does it (its ``LookaheadState``, every 5 steps), the state is every floating
tensor of the modules' ``state_dict``: parameters and BatchNorm's running statistics, so the
statistics stay those of the weights they follow; integer buffers (``num_batches_tracked``)
keep counting. The optimiser's state (momentum) is left alone, as in the paper. airbench's
``alpha`` shrinks over training, ``1 - 0.95**5 * progress**3`` (from 1 to 0.23; it starts in
its 4th epoch: an EMA copied back into the network); here it is one constant,
``config.lookahead``.
"""

from __future__ import annotations

import torch
from torch import nn

LOOKAHEAD_K = 5  # optimiser steps between two syncs (airbench94's every_n_steps)


class Lookahead:
    """The slow weights of ``modules``; :meth:`update` after each step syncs every ``k``."""

    def __init__(self, modules: list[nn.Module], alpha: float, k: int = LOOKAHEAD_K) -> None:
        if not 0.0 < alpha <= 1.0 or k < 1:
            raise ValueError(f"need alpha in (0, 1] and k >= 1, got alpha={alpha}, k={k}")
        self.modules = modules
        self.alpha = alpha
        self.k = k
        self.steps = 0
        self.slow = [t.detach().clone() for t in self._fast()]

    def _fast(self) -> list[torch.Tensor]:
        """The modules' floating tensors in ``state_dict`` order (sharing their storage)."""
        return [t for m in self.modules for t in m.state_dict().values() if t.is_floating_point()]

    @torch.no_grad()
    def update(self) -> None:
        """Count a step; on every ``k``-th, move the slow weights and reset the fast ones."""
        self.steps += 1
        if self.steps % self.k != 0:
            return
        fast = self._fast()
        torch._foreach_lerp_(self.slow, fast, self.alpha)
        torch._foreach_copy_(fast, self.slow)
