"""Device and torch set-up for a run: which device, how many threads, seeds, autocast."""

from __future__ import annotations

import contextlib
import functools
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


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``); empty where they cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def native_bf16() -> list[str]:
    """The CPU features that compute bf16 natively (AVX512-BF16, AMX); empty if none."""
    return sorted({"avx512_bf16", "amx_bf16"} & cpu_flags())


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for ``precision`` (auto | fp32 | bf16) on ``device``.

    auto (or ``$TOOLKIT_PRECISION`` when set) is bf16 on CUDA and on CPUs with native bf16,
    fp32 elsewhere: emulated bf16 is slower than fp32.
    """
    if precision == "auto":
        precision = os.environ.get("TOOLKIT_PRECISION", "auto") or "auto"
    if precision not in ("auto", "fp32", "bf16"):
        raise ToolkitError(f"precision must be auto, fp32 or bf16, got {precision!r}.")
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cuda" or native_bf16() else "fp32"


def emulated_bf16(precision: str, device: torch.device) -> str | None:
    """A warning when ``precision`` resolves to bf16 on a CPU that emulates it; else None.

    ``auto`` never picks bf16 there, but ``bf16`` (or ``$TOOLKIT_PRECISION=bf16``) is obeyed:
    on a 2-core AVX2 EPYC it trained fastnet 10x (width 0.5) to 17x (width 1.0) slower than
    fp32 (``benchmarks/precision.py``, docs/BENCHMARKS.md). Unreadable flags: no warning.
    """
    if device.type != "cpu" or not cpu_flags() or native_bf16():
        return None
    if resolve_precision(precision, device) != "bf16":
        return None
    return (
        "precision bf16 on a CPU without native bf16 (its flags list neither avx512_bf16 nor "
        "amx_bf16): torch emulates it, about 10x slower than fp32 on such CPUs. Use --set "
        "precision=auto (fp32 here) unless bf16 itself is what you are testing."
    )


def setup_torch(
    seed: int,
    device: torch.device,
    *,
    threads: int = 0,
    processes: int = 1,
    precision: str = "auto",
) -> Callable[[], Any]:
    """Seed, set threads, and return the autocast context factory (bf16 or none).

    ``threads`` 0 means ``$TOOLKIT_THREADS`` or all the cores this process's share of the
    machine has: ``processes`` training processes on this machine share its cores (DDP on CPU).
    ``precision``: see :func:`resolve_precision`.
    """
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    cores = max(1, (os.cpu_count() or 1) // processes)
    torch.set_num_threads(threads or int(os.environ.get("TOOLKIT_THREADS", 0)) or cores)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if resolve_precision(precision, device) == "bf16":
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext
