"""torchrun's environment, read without importing torch (the CLI checks it before any work).

``torchrun`` (``python -m torch.distributed.run``) starts each process with ``WORLD_SIZE``,
``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT`` and ``TORCHELASTIC_*`` variables;
:mod:`toolkit.train.distributed` turns them into a :class:`~toolkit.train.distributed.World`.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

TORCHRUN_VARS = (
    "WORLD_SIZE",
    "RANK",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "GROUP_RANK",
    "GROUP_WORLD_SIZE",
    "ROLE_RANK",
    "ROLE_WORLD_SIZE",
    "ROLE_NAME",
    "MASTER_ADDR",
    "MASTER_PORT",
)  # and every TORCHELASTIC_* variable


def launched_by_torchrun(env: MutableMapping[str, str] | None = None) -> bool:
    """Whether torchrun started this process, with any number of processes (even one)."""
    env = os.environ if env is None else env
    return "WORLD_SIZE" in env or "TORCHELASTIC_RUN_ID" in env


def forget_torchrun(env: MutableMapping[str, str] | None = None) -> None:
    """Remove torchrun's variables from ``env`` (default: this process's environment), so that
    subprocesses started from it are single processes, not ranks of a launch."""
    env = os.environ if env is None else env
    for name in [n for n in env if n in TORCHRUN_VARS or n.startswith("TORCHELASTIC_")]:
        del env[name]
