"""Per-channel statistics of image arrays, computed in chunks (memory-mapped arrays are
never loaded whole)."""

from __future__ import annotations

import numpy as np

_CHUNK_BYTES = 8 << 20  # uint8 bytes per chunk; its float64 copy is 8x that


def channel_stats(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel of uint8 images ``x`` (N, C, H, W), in [0, 1] units."""
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"expected a non-empty (N, C, H, W) array, got shape {x.shape}")
    channels = x.shape[1]
    per_image = max(1, x[0].size * x.itemsize)
    step = max(1, _CHUNK_BYTES // per_image)
    total = np.zeros(channels, dtype=np.float64)
    squares = np.zeros(channels, dtype=np.float64)
    for start in range(0, len(x), step):
        chunk = np.asarray(x[start : start + step], dtype=np.float64)  # (n, C, H, W)
        total += chunk.sum(axis=(0, 2, 3))
        squares += np.square(chunk).sum(axis=(0, 2, 3))
    count = x.size / channels
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return tuple((mean / 255).tolist()), tuple((std / 255).tolist())
