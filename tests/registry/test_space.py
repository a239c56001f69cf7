"""Search-space dimensions: validation, dict round trip, suggestion from a trial."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit.errors import ToolkitError
from toolkit.registry import Choice, Float, Int, dimension_from_dict

# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dim", [Float(0.0, 1.0), Float(1e-5, 1e-1, log=True), Int(1, 2), Int(8, 512, log=True)]
)
def test_valid_ranges(dim: Float | Int) -> None:
    dim.validate("x")


@pytest.mark.parametrize(
    ("dim", "match"),
    [
        (Float(1.0, 1.0), "empty or inverted"),
        (Float(2.0, 1.0), "empty or inverted"),
        (Int(3, 3), "empty or inverted"),
        (Int(5, 1), "empty or inverted"),
        (Float(0.0, 1.0, log=True), "needs low > 0"),
        (Float(-1.0, 1.0, log=True), "needs low > 0"),
        (Int(0, 16, log=True), "needs low > 0"),
        (Float(0.0, math.inf), "must be finite"),
        (Float(math.nan, 1.0), "must be finite"),
        (Float("0.1", 1.0), "needs numbers"),  # type: ignore[arg-type]
        (Int(1.5, 4), "needs integers"),  # type: ignore[arg-type]
        (Int(False, True), "needs integers"),
        (Choice(()), "empty"),
    ],
)
def test_invalid_dimensions_are_refused(dim: Any, match: str) -> None:
    with pytest.raises(ToolkitError, match=match) as err:
        dim.validate("lr")
    assert "'lr'" in str(err.value)


def test_numpy_numbers_are_numbers() -> None:
    np = pytest.importorskip("numpy")
    Int(np.int64(1), np.int64(8)).validate("depth")
    Float(np.float32(0.5), 2).validate("scale")


def test_choice_given_a_list_equals_its_round_trip() -> None:
    dim = Choice(["sgd", "adamw"])  # type: ignore[arg-type]
    assert dim.choices == ("sgd", "adamw")
    assert hash(dim) == hash(Choice(("sgd", "adamw")))
    assert dimension_from_dict("opt", dim.to_dict()) == dim


# -- dict round trip -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dim",
    [
        Float(1e-4, 0.1, log=True),
        Float(-1.0, 1.0),
        Int(1, 8),
        Int(16, 256, log=True),
        Choice(("a", "b")),
        Choice((1, 2.5, True, "x")),
        Choice((None,)),
    ],
)
def test_to_dict_round_trips_through_json(dim: Any) -> None:
    spec = json.loads(json.dumps(dim.to_dict()))
    assert dimension_from_dict("p", spec) == dim


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)


@given(a=finite, b=finite, log=st.booleans())
def test_float_round_trip_property(a: float, b: float, log: bool) -> None:
    low, high = sorted((a, b))
    if log:
        low, high = abs(low) + 1e-9, abs(high) + abs(low) + 1.0
    if low >= high:
        return
    dim = Float(low, high, log)
    assert dimension_from_dict("p", dim.to_dict()) == dim


@given(a=st.integers(-(10**6), 10**6), width=st.integers(1, 10**6), log=st.booleans())
def test_int_round_trip_property(a: int, width: int, log: bool) -> None:
    low = abs(a) + 1 if log else a
    dim = Int(low, low + width, log)
    assert dimension_from_dict("p", dim.to_dict()) == dim


def test_from_dict_accepts_study_file_forms() -> None:
    assert dimension_from_dict(
        "lr", {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}
    ) == (Float(1e-4, 1e-1, True))
    assert dimension_from_dict("lr", {"type": "float", "low": 0, "high": 1}) == Float(0.0, 1.0)
    assert dimension_from_dict("w", {"type": "int", "low": 1, "high": 4}) == Int(1, 4)
    whole = dimension_from_dict("w", {"type": "int", "low": 16.0, "high": 256, "log": True})
    assert whole == Int(16, 256, log=True) and isinstance(whole.low, int)
    assert dimension_from_dict("o", {"type": "choice", "choices": ["a"]}) == Choice(("a",))
    assert dimension_from_dict("o", ["a", "b"]) == Choice(("a", "b"))  # a bare list
    assert dimension_from_dict("o", ("a",)) == Choice(("a",))


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"type": "float", "low": 1.0}, "missing 'high'"),
        ({"type": "int", "high": 3}, "missing 'low'"),
        ({"type": "choice"}, "missing 'choices'"),
        ({"low": 0, "high": 1}, "has type None"),
        ({"type": "normal", "low": 0, "high": 1}, "has type 'normal'"),
        ({"type": "float", "low": 0, "high": 1, "step": 0.1}, r"unknown keys \['step'\]"),
        ({"type": "float", "low": "a", "high": 1}, "malformed"),
        ({"type": "float", "low": None, "high": 1}, "malformed"),
        ({"type": "float", "low": 1, "high": 0}, "empty or inverted"),
        ({"type": "float", "low": 0, "high": 1, "log": True}, "needs low > 0"),
        ({"type": "float", "low": 0.1, "high": 1, "log": "false"}, "log='false'; use true"),
        ({"type": "int", "low": 1.5, "high": 4}, "use whole numbers"),
        ({"type": "int", "low": "1", "high": 4}, "use whole numbers"),
        ({"type": "int", "low": 4, "high": 4}, "empty or inverted"),
        ({"type": "choice", "choices": []}, "empty"),
        ({"type": "choice", "choices": "abc"}, "needs choices as a list"),
        ([], "empty"),
        ("float", "must be a table"),
        (0.1, "must be a table"),
        (None, "must be a table"),
    ],
)
def test_from_dict_rejects_malformed_specs(spec: Any, match: str) -> None:
    with pytest.raises(ToolkitError, match=match) as err:
        dimension_from_dict("lr", spec)
    assert "'lr'" in str(err.value)


# -- suggestion ------------------------------------------------------------------------------


class FakeTrial:
    """Duck-types the three Optuna methods a dimension calls; records them."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        self.calls.append(("float", name, low, high, log))
        return low

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        self.calls.append(("int", name, low, high, log))
        return high

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.calls.append(("choice", name, choices))
        return choices[-1]


def test_suggest_calls_the_matching_trial_method() -> None:
    trial = FakeTrial()
    assert Float(1e-3, 1.0, log=True).suggest(trial, "lr") == 1e-3
    assert Int(2, 9).suggest(trial, "depth") == 9
    assert Choice(("a", "b")).suggest(trial, "opt") == "b"
    assert trial.calls == [
        ("float", "lr", 1e-3, 1.0, True),
        ("int", "depth", 2, 9, False),
        ("choice", "opt", ["a", "b"]),
    ]
