"""A cache of plugin listings, so ``tk plugins list`` need not import every plugin (and torch).

An entry point's listing is cached under ``<cache>/plugins/<kind>.json`` and reused while its
key holds: the distribution and version, the entry point's target, and the size and mtime of
every ``.py`` file in the plugin module's folder. Broken plugins are never cached (a missing
dependency may be installed later), and local ``--plugins`` files are imported anyway.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from toolkit import io

VERSION = 1  # bump when PluginInfo's dict form changes


def path(kind: str) -> Path:
    return io.cache_root() / "plugins" / f"{kind}.json"


def load(kind: str) -> dict[str, Any]:
    """The cached listings of ``kind`` (empty when absent or unreadable)."""
    try:
        data = json.loads(path(kind).read_text())
    except (OSError, ValueError):
        return {}
    return data.get("entries", {}) if data.get("version") == VERSION else {}


def save(kind: str, entries: dict[str, Any]) -> None:
    """Write the listings; a cache folder that cannot be written is not an error."""
    with contextlib.suppress(OSError):
        io.write_json(path(kind), {"version": VERSION, "entries": entries})


def entry_key(source: str, version: str, target: str) -> str | None:
    """What must not change for a cached listing to stay true (None: not cacheable)."""
    module = target.partition(":")[0]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None) if spec is not None else None
    if not origin or not os.path.isfile(origin):
        return None
    stamps = []
    for file in sorted(Path(origin).parent.glob("*.py")):
        st = file.stat()
        stamps.append(f"{file.name}:{st.st_size}:{st.st_mtime_ns}")
    return f"{source}=={version}|{target}|{origin}|{';'.join(stamps)}"
