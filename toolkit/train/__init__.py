"""The training engine: :func:`train` turns a :class:`TrainConfig` and a competition into a run.

Importing this package imports torch; the CLI imports it inside the commands that train.
"""

from toolkit.train.config import TrainConfig, apply_overrides, parse_overrides
from toolkit.train.run import RunResult, train

__all__ = ["RunResult", "TrainConfig", "apply_overrides", "parse_overrides", "train"]
