"""Search-space dimensions a plugin declares for its tunable parameters.

A dimension is a small frozen value object. It validates itself (no empty or inverted range),
round-trips through plain dicts (for TOML study files and ``--json`` output), and suggests a
value from an Optuna trial (duck-typed, so this module never imports Optuna).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Protocol

from toolkit.errors import ToolkitError


class _Trial(Protocol):
    def suggest_float(self, name: str, low: float, high: float, *, log: bool = ...) -> float: ...
    def suggest_int(self, name: str, low: int, high: int, *, log: bool = ...) -> int: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class Float:
    """A real-valued range ``[low, high]``; ``log=True`` samples log-uniformly."""

    low: float
    high: float
    log: bool = False  # log-uniform: right for learning rates, margins, weight decay

    def validate(self, name: str) -> None:
        if not all(_is_number(v, float) for v in (self.low, self.high)):
            raise ToolkitError(f"search range for '{name}' needs numbers, got {self}.")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ToolkitError(f"search range for '{name}' must be finite, got {self}.")
        if self.low >= self.high:
            raise ToolkitError(
                f"search range for '{name}' is empty or inverted (low={self.low}, "
                f"high={self.high}); use low < high."
            )
        if self.log and self.low <= 0:
            raise ToolkitError(f"log-scale range for '{name}' needs low > 0, got {self.low}.")

    def suggest(self, trial: _Trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "float", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Int:
    """An integer range ``[low, high]`` (both ends included)."""

    low: int
    high: int
    log: bool = False  # log-uniform: right for batch sizes and widths

    def validate(self, name: str) -> None:
        if not all(_is_number(v, int) for v in (self.low, self.high)):
            raise ToolkitError(f"search range for '{name}' needs integers, got {self}.")
        if self.low >= self.high:
            raise ToolkitError(
                f"search range for '{name}' is empty or inverted (low={self.low}, "
                f"high={self.high}); use low < high."
            )
        if self.log and self.low <= 0:
            raise ToolkitError(f"log-scale range for '{name}' needs low > 0, got {self.low}.")

    def suggest(self, trial: _Trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "int", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of values (numbers, strings or booleans)."""

    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        # Choice(["a", "b"]) is the natural spelling; keep it hashable and equal to its round trip.
        if isinstance(self.choices, list):
            object.__setattr__(self, "choices", tuple(self.choices))

    def validate(self, name: str) -> None:
        if len(self.choices) == 0:
            raise ToolkitError(f"search choices for '{name}' are empty; give at least one value.")

    def suggest(self, trial: _Trial, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.choices))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "choice", "choices": list(self.choices)}


Dimension = Float | Int | Choice


def _is_number(value: Any, kind: type) -> bool:
    """True for an integer (or, when ``kind`` is float, any real); bools are not numbers here."""
    allowed = numbers.Real if kind is float else numbers.Integral
    return isinstance(value, allowed) and not isinstance(value, bool)


def dimension_from_dict(name: str, spec: Any) -> Dimension:
    """Build a dimension from its dict form (as written in a study TOML file) and validate it.

    Accepted forms: ``{type="float", low=1e-4, high=1e-1, log=true}``, ``{type="int", ...}``,
    ``{type="choice", choices=[...]}``, or a bare list (a choice).
    """
    if isinstance(spec, list | tuple):
        dim: Dimension = Choice(tuple(spec))
    elif isinstance(spec, dict):
        kind = spec.get("type")
        extra = set(spec) - {"type", "low", "high", "log", "choices"}
        if extra:
            raise ToolkitError(
                f"search space for '{name}' has unknown keys {sorted(extra)}; "
                "use type, low, high, log (or choices)."
            )
        if not isinstance(spec.get("log", False), bool):
            raise ToolkitError(
                f"search space for '{name}' has log={spec['log']!r}; use true or false."
            )
        if kind == "choice" and not isinstance(spec.get("choices", []), list | tuple):
            raise ToolkitError(
                f"search space for '{name}' needs choices as a list, got {spec['choices']!r}."
            )
        try:
            if kind == "float":
                dim = Float(float(spec["low"]), float(spec["high"]), bool(spec.get("log", False)))
            elif kind == "int":
                # 16.0 is a whole number (TOML and JSON may write it so); 1.5 is not.
                low, high = (
                    int(v) if isinstance(v, float) and v.is_integer() else v
                    for v in (spec["low"], spec["high"])
                )
                if not all(_is_number(v, int) for v in (low, high)):
                    raise ToolkitError(
                        f"search range for '{name}' has type 'int' but low={low!r}, "
                        f"high={high!r}; use whole numbers (or type 'float')."
                    )
                dim = Int(low, high, bool(spec.get("log", False)))
            elif kind == "choice":
                dim = Choice(tuple(spec["choices"]))
            else:
                raise ToolkitError(
                    f"search space for '{name}' has type {kind!r}; use 'float', 'int' or 'choice'."
                )
        except KeyError as err:
            raise ToolkitError(
                f"search space for '{name}' is missing {err.args[0]!r}; "
                "float and int need low and high, choice needs choices."
            ) from None
        except (TypeError, ValueError) as err:
            raise ToolkitError(f"search space for '{name}' is malformed: {err}.") from None
    else:
        raise ToolkitError(
            f"search space for '{name}' must be a table like {{type='float', low=.., high=..}} "
            f"or a list of choices, got {spec!r}."
        )
    dim.validate(name)
    return dim
