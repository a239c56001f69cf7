"""Durations as people write them: ``90``, ``90s``, ``10m``, ``1.5h``, ``1h30m``.

Read by ``--budget``, ``--set budget=...`` and study files' time limits.
"""

from __future__ import annotations

import math
import re

from toolkit.errors import ToolkitError

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([hms])")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, *, allow_zero: bool = False) -> float:
    """Seconds from ``90``, ``90s``, ``10m``, ``1.5h``, ``1h30m``; anything else is a user
    error. Zero only with ``allow_zero`` (a setting where 0 means "none", such as budget)."""
    raw = text.strip().lower()
    try:
        seconds = float(raw)  # plain seconds (also "inf"/"nan", refused below)
    except ValueError:
        sign, body = (-1.0, raw[1:]) if raw.startswith("-") else (1.0, raw)
        parts = _DURATION.findall(body)
        if not parts or _DURATION.sub("", body).strip():
            raise ToolkitError(
                f"cannot read duration {text!r}; use e.g. 90s, 10m, 1.5h or 1h30m."
            ) from None
        seconds = sign * sum(float(number) * _UNITS[unit] for number, unit in parts)
    if not math.isfinite(seconds):
        raise ToolkitError(f"duration must be finite, got {text!r}; use e.g. 90s, 10m or 1h.")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ToolkitError(f"duration must be positive, got {text!r}.")
    return seconds
