"""What the registry reports about a plugin: its parameters, search space, source, status.

These are plain values (``to_dict``/``from_dict`` round-trip through JSON), so listings can be
printed as ``--json`` and cached without importing the plugin.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

from toolkit.registry._space import Dimension


@dataclass(frozen=True)
class ParamInfo:
    """One user-settable parameter of a plugin, read from its factory's signature."""

    name: str
    default: Any  # inspect.Parameter.empty when required
    annotation: str  # as written in the signature, e.g. "float"

    @classmethod
    def of(cls, param: inspect.Parameter) -> ParamInfo:
        """The parameter as a factory's signature declares it."""
        ann = param.annotation
        text = "" if ann is param.empty else (ann if isinstance(ann, str) else _type_name(ann))
        return cls(param.name, param.default, text)

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    def to_dict(self) -> dict[str, Any]:
        default = None if self.required else self.default
        return {
            "name": self.name,
            "default": default,
            "required": self.required,
            "type": self.annotation,
        }


@dataclass(frozen=True)
class PluginInfo:
    """What ``info(name)`` reports: enough for ``tk plugins list/show`` and for a study."""

    name: str
    kind: str  # "encoder" | "loss" | "head"
    source: str  # distribution name for entry points, file path for local files
    target: str  # "module:object"
    summary: str  # first line of the factory's docstring
    params: tuple[ParamInfo, ...] = ()
    space: Mapping[str, Dimension] = field(default_factory=dict)
    status: str = "ok"  # "ok" | "broken" | "not loaded"
    error: str | None = None  # why it is broken

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "target": self.target,
            "summary": self.summary,
            "status": self.status,
            "error": self.error,
            "params": [p.to_dict() for p in self.params],
            "space": {k: d.to_dict() for k, d in self.space.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PluginInfo:
        """Inverse of :meth:`to_dict` (defaults come back in their JSON form)."""
        from toolkit.registry._space import dimension_from_dict

        params = tuple(
            ParamInfo(
                p["name"],
                inspect.Parameter.empty if p["required"] else p["default"],
                p["type"],
            )
            for p in data.get("params", [])
        )
        space = {k: dimension_from_dict(k, v) for k, v in data.get("space", {}).items()}
        return cls(
            name=data["name"],
            kind=data["kind"],
            source=data["source"],
            target=data["target"],
            summary=data.get("summary", ""),
            params=params,
            space=space,
            status=data.get("status", "ok"),
            error=data.get("error"),
        )


def summary_of(obj: Any) -> str:
    """The first line of ``obj``'s docstring ("" without one): its summary in listings."""
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _type_name(ann: Any) -> str:
    # list[int].__name__ is "list": only a plain class may be shown by its bare name.
    if isinstance(ann, type) and not get_args(ann):
        return ann.__name__
    return str(ann).replace("typing.", "")


def type_problem(annotation: str, value: Any) -> str:
    """What ``value`` should be for a parameter annotated ``annotation`` ("" when it fits).

    Only plain annotations are checked (``float``, ``int``, ``bool``, ``str``, optionally
    ``| None``); anything else is the plugin's to check. None (a search-space placeholder, or an
    optional parameter) always fits.
    """
    if value is None:
        return ""
    kinds = {part.strip() for part in annotation.split("|")} - {"None"}
    if len(kinds) != 1:
        return ""
    kind = kinds.pop()
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "float" and not (number and math.isfinite(value)):
        return "a finite number"
    if kind == "int" and not (number and float(value).is_integer()):
        return "a whole number"
    if kind == "bool" and not isinstance(value, bool):
        return "true or false"
    if kind == "str" and not isinstance(value, str):
        return "text"
    return ""


def check_types(
    kind: str, name: str, base: str, accepted: Sequence[ParamInfo], params: Mapping[str, Any]
) -> None:
    """Raise a one-line error for a parameter value its plain annotation rules out."""
    from toolkit.errors import ToolkitError

    by_name = {p.name: p for p in accepted}
    for key, value in params.items():
        problem = type_problem(by_name[key].annotation, value) if key in by_name else ""
        if problem:
            raise ToolkitError(
                f"{kind} '{name}' parameter {key} must be {problem}, got {value!r:.60}; e.g. "
                f"--set {kind}.{key}=... ('tk plugins show {base}' lists its parameters)."
            )
