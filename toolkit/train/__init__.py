"""The training engine: :func:`train` turns a :class:`TrainConfig` and a competition into a run.

``toolkit.train.config`` is light (no torch); the rest loads torch, so it is imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from toolkit.train.config import TrainConfig, apply_overrides, parse_overrides

if TYPE_CHECKING:
    from toolkit.train.run import RunResult, train

__all__ = ["RunResult", "TrainConfig", "apply_overrides", "parse_overrides", "train"]


def __getattr__(name: str) -> Any:
    if name in ("RunResult", "train"):
        from toolkit.train import run

        return getattr(run, name)
    raise AttributeError(f"module 'toolkit.train' has no attribute {name!r}")
