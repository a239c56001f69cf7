"""Device and torch set-up for a run: which device, how many threads, seeds, autocast."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from toolkit.errors import ToolkitError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ToolkitError(
            "device 'cuda' requested but CUDA is not available; use --set device=cpu."
        )
    try:
        return torch.device(name)
    except RuntimeError:
        raise ToolkitError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N.") from None


def setup_torch(
    seed: int, device: torch.device, *, threads: int = 0, processes: int = 1
) -> Callable[[], Any]:
    """Seed, set threads, and return the autocast context factory (bf16 on CUDA only).

    ``threads`` 0 means ``$TOOLKIT_THREADS`` or all the cores this process's share of the
    machine has: ``processes`` training processes on this machine share its cores (DDP on CPU).
    """
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    cores = max(1, (os.cpu_count() or 1) // processes)
    torch.set_num_threads(threads or int(os.environ.get("TOOLKIT_THREADS", 0)) or cores)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext
