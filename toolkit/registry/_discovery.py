"""Plugin discovery: entry points of installed packages and plugin paths the user named.

Plugins only ever come from these two places (never from the working directory or any
implicit search): the entry-point groups of installed distributions, and files or folders
given with ``--plugins PATH`` or ``$TOOLKIT_PLUGINS`` (``os.pathsep``-separated).

Dependencies point one way: registries call this module (``ensure``, ``loading``,
``current_source``); this module knows registries only as :class:`Discoverable`, and
``toolkit.registry`` hands it the three it fills with :func:`track`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol

from toolkit.errors import ToolkitError

ENV_VAR = "TOOLKIT_PLUGINS"


class Discoverable(Protocol):
    """What discovery needs of a registry (:class:`toolkit.registry.Registry` is one)."""

    group: str  # the entry-point group, e.g. "toolkit.encoders"

    def add_entry_point(
        self, name: str, source: str, target: str, loader: Callable[[], Any], version: str
    ) -> None:
        """Record an entry point without importing it."""
        ...

    def clear(self) -> None:
        """Forget every entry (registered and discovered)."""
        ...


_registries: list[Discoverable] = []  # the registries discovery fills, in order
_source: ContextVar[str | None] = ContextVar("toolkit_plugin_source", default=None)
_state = {"discovered": False, "env_read": False}
_paths: list[Path] = []  # plugin paths named by the user, in order
_loaded_files: set[Path] = set()
broken_files: dict[str, str] = {}  # path -> error, for listings


def current_source() -> str | None:
    """The distribution or file being loaded right now (None outside discovery)."""
    return _source.get()


@contextlib.contextmanager
def loading(source: str) -> Iterator[None]:
    """Attribute registrations made inside this block to ``source``."""
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)


def track(*registries: Discoverable) -> None:
    """Have discovery fill ``registries`` (and clear them on :func:`reset`)."""
    _registries.extend(r for r in registries if r not in _registries)


def plugin_paths() -> tuple[str, ...]:
    """The plugin files and folders named so far (``--plugins``, ``$TOOLKIT_PLUGINS``)."""
    return tuple(str(p) for p in _paths)


def add_plugin_paths(paths: list[str] | tuple[str, ...]) -> None:
    """Add plugin files or folders named by the user; they load when a registry is consulted."""
    for raw in paths:
        if not raw:
            continue
        path = Path(raw).expanduser()
        if not path.exists():
            raise ToolkitError(
                f"plugin path '{raw}' does not exist; pass an existing .py file or a folder "
                f"of them to --plugins (or ${ENV_VAR})."
            )
        if path.is_file() and path.suffix != ".py":
            raise ToolkitError(
                f"plugin path '{raw}' is not a .py file; pass a .py file or a folder."
            )
        path = path.resolve()
        if path not in _paths:
            _paths.append(path)
    if _state["discovered"]:
        _load_paths()


def ensure() -> None:
    """Discover entry points and load the user's plugin files, once per process."""
    if not _state["env_read"]:
        _state["env_read"] = True
        env = os.environ.get(ENV_VAR, "")
        add_plugin_paths([p for p in env.split(os.pathsep) if p.strip()])
    if _state["discovered"]:
        return
    _state["discovered"] = True
    _discover_entry_points()
    _load_paths()


def reset() -> None:
    """Forget discovery state and user paths (for tests)."""
    _state["discovered"] = False
    _state["env_read"] = False
    _paths.clear()
    _loaded_files.clear()
    broken_files.clear()
    for registry in _registries:
        registry.clear()


def _discover_entry_points() -> None:
    from importlib.metadata import entry_points

    for registry in _registries:
        for ep in entry_points(group=registry.group):
            dist = getattr(ep, "dist", None)
            source = dist.name if dist is not None else "<unknown distribution>"
            version = dist.version if dist is not None else ""
            registry.add_entry_point(ep.name, source, ep.value, ep.load, version)


def plugin_files(path: Path) -> list[Path]:
    """The plugin modules in ``path``: the file itself, or a folder's ``*.py`` (no tests)."""
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.glob("*.py")
        if not p.name.startswith(("_", "test_")) and p.name != "conftest.py"
    )


def _load_paths() -> None:
    for path in list(_paths):
        for file in plugin_files(path):
            if file in _loaded_files:
                continue
            _loaded_files.add(file)
            _import_file(file)


def _import_file(file: Path) -> None:
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:8]
    module_name = f"toolkit_local_plugins.{file.stem}_{digest}"
    try:
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None:
            raise ImportError("not an importable Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        with loading(str(file)):
            spec.loader.exec_module(module)
    except Exception as err:  # a broken plugin file must not break the others
        sys.modules.pop(module_name, None)
        broken_files[str(file)] = f"{type(err).__name__}: {err}"
