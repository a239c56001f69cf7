"""The plugin registry: one generic :class:`Registry` and three typed instances.

``encoders``, ``losses`` and ``heads`` are filled from entry points (groups
``toolkit.encoders``, ``toolkit.losses``, ``toolkit.heads``) and from plugin paths the user
names. See :mod:`toolkit.registry._registry` for how, and :mod:`toolkit.registry.contracts`
for what every built plugin provides (checked by ``create``).
"""

from typing import Any

from toolkit.registry import _discovery, contracts
from toolkit.registry._discovery import add_plugin_paths, broken_files, plugin_paths
from toolkit.registry._info import ParamInfo, PluginInfo
from toolkit.registry._registry import Registry
from toolkit.registry._scaffold import scaffold
from toolkit.registry._space import Choice, Dimension, Float, Int, dimension_from_dict
from toolkit.registry.contracts import (
    EmbeddingLoss,
    Encoder,
    Head,
    LogitLoss,
    Loss,
    LossTarget,
    data_config,
    preferred_image_size,
    weight_source_params,
)

__all__ = [
    "KINDS",
    "Choice",
    "Dimension",
    "EmbeddingLoss",
    "Encoder",
    "Float",
    "Head",
    "Int",
    "LogitLoss",
    "Loss",
    "LossTarget",
    "ParamInfo",
    "PluginInfo",
    "Registry",
    "add_plugin_paths",
    "all_infos",
    "broken_files",
    "contracts",
    "data_config",
    "dimension_from_dict",
    "encoders",
    "find_info",
    "heads",
    "losses",
    "plugin_paths",
    "preferred_image_size",
    "registry_for",
    "scaffold",
    "weight_source_params",
]

# Context arguments are supplied by the core, never by the user.
encoders: Registry[Encoder] = Registry(
    "encoder", "toolkit.encoders", context=("in_channels", "image_size"), contract=Encoder
)
losses: Registry[Loss] = Registry(
    "loss", "toolkit.losses", context=("num_classes",), contract=Loss
)
heads: Registry[Head] = Registry(
    "head", "toolkit.heads", context=("in_features", "num_classes"), contract=Head
)

KINDS: dict[str, Registry[Any]] = {"encoder": encoders, "loss": losses, "head": heads}
_discovery.track(encoders, losses, heads)


def registry_for(kind: str) -> Registry[Any]:
    """The registry of ``kind`` ("encoder", "loss" or "head"; plurals accepted)."""
    from toolkit.errors import ToolkitError

    key = {"encoders": "encoder", "losses": "loss", "heads": "head"}.get(kind, kind)
    if key not in KINDS:
        raise ToolkitError(f"unknown plugin kind '{kind}'; use one of: encoder, loss, head.")
    return KINDS[key]


def all_infos(
    kind: str | None = None, pattern: str = "*", *, cached: bool = False
) -> list[PluginInfo]:
    """Info for every plugin (of one kind, or all), broken ones included, sorted by kind/name.

    ``cached=True`` reuses unchanged entry points' listings without importing them.
    """
    kinds = [registry_for(kind)] if kind else list(KINDS.values())
    return [info for reg in kinds for info in reg.infos(pattern, cached=cached)]


def find_info(name: str, kind: str | None = None) -> PluginInfo:
    """Info for ``name`` looked up in every registry (or only ``kind``'s)."""
    from toolkit.errors import ToolkitError

    if kind:
        return registry_for(kind).info(name)
    hits = [reg for reg in KINDS.values() if name in reg]
    if len(hits) > 1:
        kinds = ", ".join(reg.kind for reg in hits)
        raise ToolkitError(f"'{name}' is registered as several kinds ({kinds}); add --kind.")
    if hits:
        return hits[0].info(name)
    # Not found anywhere: let the encoder registry raise with close matches from all kinds.
    import difflib

    every = [n for reg in KINDS.values() for n in reg.names()]
    close = difflib.get_close_matches(name, every, n=3, cutoff=0.5)
    hint = f"did you mean: {', '.join(close)}? " if close else ""
    raise ToolkitError(f"unknown plugin '{name}'; {hint}'tk plugins list' shows all plugins.")
