"""The generic plugin registry: names -> factories, with declared parameters and search spaces.

Who calls what:
- A plugin module calls ``<registry>.register("name", space={...})`` as a decorator (or as a
  plain call ``register("name", obj)``: one code path). Nothing else is needed to be tunable.
- Installed packages expose plugins through entry points (groups ``toolkit.encoders``,
  ``toolkit.losses``, ``toolkit.heads``; value ``module:object``). They are listed without
  importing and imported on first use. The built-in plugins use exactly this mechanism.
- Plugin files or folders named by the user (``--plugins PATH``, ``$TOOLKIT_PLUGINS``) are
  imported when a registry is first consulted.
- The core calls ``create(name, **params)``; unknown names and parameters raise
  :class:`~toolkit.errors.ToolkitError` naming the closest matches / the accepted parameters.
  What it builds is checked once against the registry's contract (:mod:`.contracts`), so
  ``create`` returns a typed product: ``encoders.create(...)`` is an ``Encoder``.

This module uses :mod:`._discovery` and :mod:`.contracts`; neither imports it back.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

import toolkit.registry._discovery as _discovery
from toolkit.errors import ToolkitError
from toolkit.registry._info import ParamInfo, PluginInfo, check_types, summary_of
from toolkit.registry._space import Choice, Dimension, Float, Int
from toolkit.registry.contracts import check as check_contract

P = TypeVar("P")  # what the registry's factories build: Encoder, Loss, Head
T = TypeVar("T", bound=Callable[..., Any])  # a factory, returned unchanged by register

VARIANT_PARAM = (
    "variant"  # a factory taking this can be named "<name>:<variant>", e.g. timm:resnet18
)


@dataclass
class _Entry:
    """Mutable bookkeeping for one name: where it comes from and, once loaded, the factory."""

    name: str
    source: str
    target: str
    obj: Callable[..., Any] | None = None
    space: dict[str, Dimension] = field(default_factory=dict)
    error: str | None = None
    loader: Callable[[], Any] | None = None  # imports the entry point's object
    version: str = ""  # the distribution's version (entry points), for the listing cache


class Registry(Generic[P]):
    """Names -> factories of one kind of plugin, each building a ``P``.

    ``context`` names the factory arguments the core supplies (e.g. an encoder's
    ``in_channels``); they are not user parameters and are not tunable. ``contract`` is the
    Protocol (:mod:`.contracts`) every built plugin is checked against; None checks nothing.
    """

    def __init__(
        self,
        kind: str,
        group: str,
        context: tuple[str, ...] = (),
        contract: type | None = None,
    ) -> None:
        self.kind = kind
        self.group = group
        self.context = context
        self.contract = contract
        self._entries: dict[str, _Entry] = {}
        # Spaces given to register(), by object id; kept across _discovery.reset() so an entry
        # point whose module was already imported (no decorator re-run) keeps its space.
        self._declared: dict[int, tuple[Callable[..., Any], dict[str, Dimension]]] = {}

    # -- registration ----------------------------------------------------------------------

    @overload
    def register(
        self, name: str, obj: None = None, *, space: Mapping[str, Dimension] | None = None
    ) -> Callable[[T], T]: ...

    @overload
    def register(
        self, name: str, obj: T, *, space: Mapping[str, Dimension] | None = None
    ) -> T: ...

    def register(
        self, name: str, obj: T | None = None, *, space: Mapping[str, Dimension] | None = None
    ) -> T | Callable[[T], T]:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator that does.

        ``space`` maps parameter names to search dimensions (``Float``, ``Int``, ``Choice``);
        keys starting with ``train.`` tune the training config instead (e.g. ``train.lr``).
        """

        def decorator(target: T) -> T:
            declared = dict(space or {})
            self._add(name, target, declared)
            self._declared[id(target)] = (target, declared)
            return target

        return decorator if obj is None else decorator(obj)

    def _add(self, name: str, obj: Callable[..., Any], space: dict[str, Dimension]) -> None:
        _check_name(self.kind, name)
        params = self._params_of(name, obj)  # rejects **kwargs early, at registration
        accepted = {p.name for p in params}
        for key, dim in space.items():
            if not key.startswith("train.") and key not in accepted:
                raise ToolkitError(
                    f"{self.kind} '{name}' declares a search space for unknown parameter "
                    f"'{key}'; its parameters are: {', '.join(sorted(accepted)) or 'none'}."
                )
            if not isinstance(dim, Float | Int | Choice):
                raise ToolkitError(
                    f"{self.kind} '{name}' declares {dim!r} as the search space of '{key}'; "
                    "use Float(low, high), Int(low, high) or Choice([...])."
                )
            dim.validate(key)
        source = _discovery.current_source() or _module_source(obj)
        target = f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', '?')}"
        entry = self._entries.get(name)
        if entry is not None:
            # The entry point's own module registering it (during discovery, or imported
            # directly by user code) is the same plugin, not a duplicate.
            same_plugin = entry.source == source or _module_of(entry.target) == _module_of(target)
            if entry.obj is obj or (entry.obj is None and same_plugin):
                entry.obj, entry.space = obj, space  # keep a duplicate error found earlier
                return
            raise ToolkitError(
                f"duplicate {self.kind} name '{name}': registered by {entry.source} "
                f"({entry.target}) and by {source} ({target}); rename one of them or "
                "uninstall one package."
            )
        self._entries[name] = _Entry(name=name, source=source, target=target, obj=obj, space=space)

    def add_entry_point(
        self, name: str, source: str, target: str, loader: Callable[[], Any], version: str = ""
    ) -> None:
        """Record an entry point without importing it (called by discovery)."""
        entry = self._entries.get(name)
        if entry is not None:
            if entry.source == source and entry.target == target:
                return
            if entry.loader is None and _module_of(entry.target) == _module_of(target):
                # Its module was imported (and registered it) before discovery: same plugin.
                entry.source, entry.target, entry.loader = source, target, loader
                entry.version = version
                return
            entry.error = (
                f"duplicate {self.kind} name '{name}': registered by {entry.source} "
                f"({entry.target}) and by {source} ({target}); uninstall one of the packages."
            )
            return
        self._entries[name] = _Entry(
            name=name, source=source, target=target, loader=loader, version=version
        )

    def unregister(self, name: str) -> None:
        """Forget ``name`` (for tests and interactive sessions)."""
        self._entries.pop(name, None)

    def clear(self) -> None:
        """Forget every name; the next lookup rediscovers entry points (discovery's reset)."""
        self._entries.clear()

    # -- lookup ----------------------------------------------------------------------------

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching an fnmatch ``pattern``, sorted; nothing is imported."""
        _discovery.ensure()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: str) -> bool:
        _discovery.ensure()
        return _split_variant(name)[0] in self._entries

    def get(self, name: str) -> Callable[..., P]:
        """The factory registered as ``name`` (imported on first use)."""
        return self._load(self._entry(_split_variant(name)[0]))

    def create(self, name: str, /, **params: Any) -> P:
        """Build the plugin ``name`` with ``params`` (context arguments included) and check
        it against the contract once.

        ``name`` may be ``base:variant`` when the factory takes a ``variant`` parameter.
        """
        base, variant = _split_variant(name)
        entry = self._entry(base)
        factory = self._load(entry)
        if variant is not None:
            if VARIANT_PARAM not in inspect.signature(factory).parameters:
                raise ToolkitError(
                    f"{self.kind} '{base}' takes no variant, so '{name}' is not a valid name; "
                    f"use '{base}'."
                )
            params = {VARIANT_PARAM: variant, **params}
        self.check_params(name, params, allow_context=True)
        built = factory(**params)
        if self.contract is not None:
            check_contract(self.contract, built, kind=self.kind, name=name, target=entry.target)
        return built

    def check_params(
        self, name: str, params: Mapping[str, Any], *, allow_context: bool = False
    ) -> None:
        """Raise if ``params`` has a name the plugin does not accept (or lacks a required one)."""
        base, variant = _split_variant(name)
        factory = self.get(base)
        sig_params = self._params_of(base, factory, include_context=True)
        accepted = {p.name for p in sig_params}
        allowed = accepted if allow_context else accepted - set(self.context)
        unknown = [k for k in params if k not in allowed]
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            user = sorted(allowed - set(self.context))
            raise ToolkitError(
                f"{self.kind} '{name}' has no parameter {', '.join(hints)}; "
                f"it accepts: {', '.join(user) or 'no parameters'}."
            )
        check_types(self.kind, name, base, sig_params, params)
        if allow_context:
            given = set(params) | ({VARIANT_PARAM} if variant is not None else set())
            missing = [p.name for p in sig_params if p.required and p.name not in given]
            if missing:
                raise ToolkitError(
                    f"{self.kind} '{name}' needs parameter(s) {', '.join(missing)}; "
                    "set them with --set name=value or in the study file."
                )

    def info(self, name: str) -> PluginInfo:
        """Kind, source, summary, parameters and search space of ``name`` (imports it)."""
        entry = self._entry(_split_variant(name)[0])
        try:
            obj = self._load(entry)
        except ToolkitError:
            return self._broken_info(entry)
        params = tuple(p for p in self._params_of(entry.name, obj) if p.name != VARIANT_PARAM)
        return PluginInfo(
            name=entry.name,
            kind=self.kind,
            source=entry.source,
            target=entry.target,
            summary=summary_of(obj),
            params=params,
            space=dict(entry.space),
        )

    def infos(self, pattern: str = "*", *, cached: bool = False) -> list[PluginInfo]:
        """``info`` for every matching name; broken plugins are reported, never raised.

        ``cached=True`` (listings) reuses an entry point's listing from the on-disk cache
        while its files are unchanged, so nothing is imported; see :mod:`._infocache`.
        """
        if not cached:
            return [self.info(n) for n in self.names(pattern)]
        from toolkit.registry import _infocache

        store, dirty, out = _infocache.load(self.kind), False, []
        for name in self.names(pattern):
            entry = self._entries[name]
            key = None
            if entry.loader is not None and entry.error is None:
                key = _infocache.entry_key(entry.source, entry.version, entry.target)
            hit = store.get(name)
            if key is not None and hit is not None and hit.get("key") == key:
                out.append(PluginInfo.from_dict(hit["info"]))
                continue
            info = self.info(name)
            out.append(info)
            if key is not None and info.status == "ok":
                store[name] = {"key": key, "info": info.to_dict()}
                dirty = True
        if dirty:
            _infocache.save(self.kind, store)
        return out

    # -- internals -------------------------------------------------------------------------

    def _entry(self, name: str) -> _Entry:
        _discovery.ensure()
        entry = self._entries.get(name)
        if entry is None:
            close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
            hint = f"did you mean: {', '.join(close)}? " if close else ""
            raise ToolkitError(
                f"unknown {self.kind} '{name}'; {hint}"
                f"'tk plugins list --kind {self.kind}' shows the registered ones."
            )
        return entry

    def _load(self, entry: _Entry) -> Callable[..., Any]:
        if entry.error is not None:
            raise ToolkitError(entry.error)
        if entry.obj is None and entry.loader is not None:
            try:
                with _discovery.loading(entry.source):
                    obj = entry.loader()
            except ToolkitError as err:
                entry.error = f"{self.kind} '{entry.name}' ({entry.target}) is broken: {err}"
                raise ToolkitError(entry.error) from None
            except Exception as err:  # any import failure: report it, keep the others working
                entry.error = (
                    f"{self.kind} '{entry.name}' from {entry.source} failed to import "
                    f"({entry.target}): {type(err).__name__}: {err}"
                )
                raise ToolkitError(entry.error) from None
            if entry.obj is None:  # the module did not register it itself: take the object
                try:
                    space = self._space_of(obj)
                    with _discovery.loading(entry.source):
                        self._add(entry.name, obj, space)
                except ToolkitError as err:
                    entry.error = str(err)
                    raise
                except Exception as err:  # e.g. a malformed dimension: report, keep the others
                    entry.error = (
                        f"{self.kind} '{entry.name}' from {entry.source} ({entry.target}) is "
                        f"broken: {type(err).__name__}: {err}"
                    )
                    raise ToolkitError(entry.error) from None
        if entry.obj is None:
            raise ToolkitError(f"{self.kind} '{entry.name}' has no object; reinstall its package.")
        return entry.obj

    def _space_of(self, obj: Any) -> dict[str, Dimension]:
        """The space given to ``register`` for ``obj``, else its ``search_space`` attribute."""
        declared = self._declared.get(id(obj))
        if declared is not None and declared[0] is obj:
            return dict(declared[1])
        space = getattr(obj, "search_space", None) or {}
        if not isinstance(space, Mapping):
            raise ToolkitError(
                f"{self.kind} {getattr(obj, '__qualname__', obj)!r} has a search_space that is "
                f"not a dict of parameter name -> Float/Int/Choice: {space!r}."
            )
        return dict(space)

    def _broken_info(self, entry: _Entry) -> PluginInfo:
        return PluginInfo(
            name=entry.name,
            kind=self.kind,
            source=entry.source,
            target=entry.target,
            summary="",
            status="broken",
            error=entry.error,
        )

    def _params_of(
        self, name: str, obj: Callable[..., Any], *, include_context: bool = False
    ) -> tuple[ParamInfo, ...]:
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError) as err:
            raise ToolkitError(f"{self.kind} '{name}' has no readable signature: {err}") from None
        out = []
        for p in sig.parameters.values():
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                raise ToolkitError(
                    f"{self.kind} '{name}' takes *args/**kwargs; declare every parameter "
                    "explicitly so typos are caught."
                )
            if not include_context and p.name in self.context:
                continue
            out.append(ParamInfo.of(p))
        return tuple(out)


def _check_name(kind: str, name: str) -> None:
    ok = name and all(c.isalnum() or c in "-_." for c in name) and name[0].isalnum()
    if not ok:
        raise ToolkitError(
            f"invalid {kind} name {name!r}: use letters, digits, '-', '_' or '.', "
            "starting with a letter or digit."
        )


def _split_variant(name: str) -> tuple[str, str | None]:
    base, sep, variant = name.partition(":")
    return (base, variant) if sep else (name, None)


def _module_of(target: str) -> str:
    """The module part of a ``module:object`` target (entry-point extras stripped)."""
    return target.partition(":")[0].strip()


def _module_source(obj: Any) -> str:
    module = inspect.getmodule(obj)
    path = getattr(module, "__file__", None)
    return str(path) if path else getattr(obj, "__module__", "<unknown>")
