"""The listing cache: a second ``tk plugins list`` imports no plugin (and so no torch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CODE = """
import json, sys
from toolkit.registry import all_infos
infos = all_infos(cached=True)
print(json.dumps({"torch": "torch" in sys.modules, "names": sorted(i.name for i in infos),
                  "spaces": {i.name: sorted(i.space) for i in infos}}))
"""


def _listing(cache: Path) -> dict:
    env = dict(os.environ, TOOLKIT_CACHE=str(cache))
    env.pop("TOOLKIT_PLUGINS", None)
    out = subprocess.run(
        [sys.executable, "-c", CODE],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_second_listing_comes_from_the_cache_without_torch(tmp_path: Path) -> None:
    first = _listing(tmp_path)
    assert first["torch"] is True  # the first listing imports the plugins
    assert (tmp_path / "plugins" / "encoder.json").is_file()
    second = _listing(tmp_path)
    assert second["torch"] is False
    assert second["names"] == first["names"] and second["spaces"] == first["spaces"]


def test_a_changed_plugin_file_is_listed_afresh(tmp_path: Path) -> None:
    from toolkit.registry import _infocache

    _listing(tmp_path)
    store = json.loads((tmp_path / "plugins" / "encoder.json").read_text())
    some = next(iter(store["entries"].values()))
    origin = Path(some["key"].split("|")[2])
    stamp = some["key"]
    assert _infocache.entry_key(*_parts(stamp)) == stamp
    os.utime(origin, ns=(origin.stat().st_atime_ns, origin.stat().st_mtime_ns + 1))
    try:
        assert _infocache.entry_key(*_parts(stamp)) != stamp
    finally:
        os.utime(origin, ns=(origin.stat().st_atime_ns, origin.stat().st_mtime_ns - 1))


def _parts(key: str) -> tuple[str, str, str]:
    dist, target = key.split("|")[:2]
    source, _, version = dist.partition("==")
    return source, version, target
