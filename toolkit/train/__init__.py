"""The training engine: :func:`train` turns a :class:`TrainConfig` and a competition into a run.

``toolkit.train.config`` and ``toolkit.train.plan`` are light (no torch); the rest loads torch,
so it is imported lazily. Read :mod:`toolkit.train.trainer` for one run top to bottom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from toolkit.train.config import TrainConfig, apply_overrides, parse_overrides

if TYPE_CHECKING:
    from toolkit.train.trainer import Pruned, RunResult, train

__all__ = ["Pruned", "RunResult", "TrainConfig", "apply_overrides", "parse_overrides", "train"]


def __getattr__(name: str) -> Any:
    if name in ("Pruned", "RunResult", "train"):
        from toolkit.train import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'toolkit.train' has no attribute {name!r}")
