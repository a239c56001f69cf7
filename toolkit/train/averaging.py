"""SWA-style weight averaging: the mean of a stage's weights at its last N evaluations.

Stochastic weight averaging (Izmailov et al. 2018) averages the weights a run passes through
late in training; the mean often sits in a flatter, better-generalising spot than any one of
them. Here the loop (:mod:`.loop`) hands a :class:`WeightAverage` the weights of each
evaluation (the weights the evaluation scored: the EMA's when ``config.ema`` is on) and it keeps
the last ``n`` of them; at the stage's end the mean is put in the modules (:meth:`applied`),
scored on validation, and kept only when it scores better than the best weights kept.

Floating tensors (parameters, BatchNorm running statistics) are averaged; integer buffers
(BatchNorm's ``num_batches_tracked``) are the last snapshot's. The running statistics of
averaged weights are not the mean of the snapshots' statistics (the mean of the weights is a
network of its own), so :meth:`applied` also resets the BatchNorm counts: the stage's
evaluation then recomputes the statistics for the averaged weights, as it does for any
weights whose statistics have not settled (:func:`toolkit.train.evaluate.batchnorm_settled`);
this is ``torch.optim.swa_utils.update_bn``'s job in torch's recipe. A head trained on frozen
features is scored without a recomputation: its BatchNorm (a linear probe's standardisation)
sees the same features whatever the weights, so the mean of its statistics is theirs.

Memory: ``n`` copies of the stage's state, on its device. ``swa_utils.AveragedModel`` keeps a
deep copy of the modules and averages ``num_batches_tracked`` as a float; this keeps tensors.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch
from torch import nn

State = TypeVar("State")  # what the caller snapshots of the modules (the loop: a state dict)


class WeightAverage:
    """The last ``n`` snapshots of ``modules``' state and their mean."""

    def __init__(self, modules: list[nn.Module], n: int) -> None:
        if n < 2:
            raise ValueError(f"an average needs n >= 2 snapshots, got {n}")
        self.modules = modules
        self.n = n
        # Each snapshot: the modules' tensors in state_dict order; the oldest drops out.
        self.snapshots: deque[list[torch.Tensor]] = deque(maxlen=n)

    def __len__(self) -> int:
        return len(self.snapshots)

    def _live(self) -> list[torch.Tensor]:
        """The modules' tensors in ``state_dict`` order (they share the weights' storage)."""
        return [t for m in self.modules for t in m.state_dict().values()]

    @torch.no_grad()
    def add(self) -> None:
        """Snapshot the modules' current state (the loop calls it at each evaluation)."""
        self.snapshots.append([t.detach().clone() for t in self._live()])

    @torch.no_grad()
    def mean(self) -> list[torch.Tensor]:
        """The snapshots' mean, in ``state_dict`` order: floating tensors averaged (summed in
        at least float32), integer ones the last snapshot's."""
        if not self.snapshots:
            raise ValueError("no snapshot to average yet")
        count = len(self.snapshots)
        out = []
        for i, last in enumerate(self.snapshots[-1]):
            if not last.is_floating_point():
                out.append(last.clone())
                continue
            total = torch.zeros_like(last, dtype=torch.promote_types(last.dtype, torch.float32))
            for snapshot in self.snapshots:
                total += snapshot[i]
            out.append((total / count).to(last.dtype))
        return out

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """The mean in the modules for the ``with`` block, with BatchNorm counts reset so that
        an evaluation recomputes their statistics; the modules' own state comes back after
        (exactly, whatever the block changed)."""
        live = self._live()
        saved = [t.clone() for t in live]
        with torch.no_grad():
            torch._foreach_copy_(live, self.mean())
            for norm in _batchnorms(self.modules):
                norm.num_batches_tracked.zero_()  # "not settled": recompute before scoring
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self._live(), saved)

    def weigh(
        self, score: Callable[[], float | None], best: float, snapshot: Callable[[], State]
    ) -> tuple[dict[str, Any], State | None]:
        """At the stage's end: ``score()`` the mean (:meth:`applied`; None: no validation
        split) against ``best``, the best score kept. Returns the record of the choice and,
        when the mean is kept (it scores better, or there is nothing to compare), the
        ``snapshot()`` taken of it in the modules (its recomputed BatchNorm statistics too)."""
        record: dict[str, Any] = {"n": self.n, "averaged": len(self), "kept": "best"}
        if len(self) < 2:  # one evaluation: its weights are already the ones kept
            return record, None
        with self.applied():
            value = score()
            kept = snapshot() if value is None or value > best else None
        if value is not None:
            record.update(average_score=value, best_score=best)
        if kept is not None:
            record["kept"] = "average"
        return record, kept


def _batchnorms(modules: list[nn.Module]) -> list[nn.modules.batchnorm._BatchNorm]:
    return [
        m
        for mod in modules
        for m in mod.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.num_batches_tracked is not None
    ]
