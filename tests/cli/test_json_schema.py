"""docs/JSON.md is the schema of every command's ``--json``: each command runs on the digits
competition (a run, a two-trial study, a submission) and its JSON is checked against the
command's table there; a command with ``--json`` and no table fails, and so does a key that a
command prints and the table does not name."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests._cli import run_main

DOC = Path(__file__).resolve().parents[2] / "docs" / "JSON.md"
BASIC = ("string", "integer", "number", "boolean", "null", "object", "array", "any")


# -- the doc's tables, read into a tree of nodes ------------------------------------------------


@dataclass
class Node:
    """What one key path may hold: its types (basic names or shape names), and for objects
    and arrays what is inside."""

    types: list[str]
    required: bool = True
    children: dict[str, Node] = field(default_factory=dict)
    wildcard: Node | None = None  # `*`: any key not among the children
    items: Node | None = None  # `[]`: each item of an array
    extends: list[str] = field(default_factory=list)  # `...`: every key of these shapes


def _types(cell: str) -> tuple[list[str], Node | None]:
    """``number or null`` -> (["number", "null"], None); ``array of `x``` -> (["array"], x)."""
    types, items = [], None
    for alt in cell.split(" or "):
        alt = alt.strip()
        if alt.startswith("array of "):
            inner, _ = _types(alt.removeprefix("array of "))
            types.append("array")
            items = Node(inner)
            continue
        name = alt.strip("`")
        if alt.startswith("`") or name in BASIC:
            types.append(name)
        else:
            raise AssertionError(f"docs/JSON.md: unknown type {alt!r}")
    return types, items


def _segments(key: str) -> list[str]:
    """``[].space.*`` -> [], space, *; ``classes[].label`` -> classes, [], label."""
    out: list[str] = []
    for part in key.split("."):
        name, brackets = part, 0
        while name.endswith("[]"):
            name, brackets = name[:-2], brackets + 1
        out += ([name] if name else []) + ["[]"] * brackets
    return out


def parse_doc(text: str) -> dict[str, Node]:
    """Each section's table (``## `tk runs```, ``### `run record```) as a tree of nodes."""
    sections: dict[str, Node] = {}
    root: Node | None = None
    for line in text.splitlines():
        heading = re.fullmatch(r"#{2,3} `([^`]+)`", line.strip())
        if heading:
            root = sections.setdefault(heading.group(1), Node(["object"]))
            continue
        if root is None or not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 4, f"docs/JSON.md: a row needs 4 cells: {line}"
        key, type_cell, present = cells[0].strip("`"), cells[1], cells[2]
        types, items = _types(type_cell)
        if key == "...":
            root.extends += [t for t in types if t not in BASIC]
            continue
        node = Node(types, required=present == "always" and not key.endswith("*"), items=items)
        *parents, last = _segments(key)
        if not parents and last == "[]" and not root.children:
            root.types = ["array"]
        where = root
        for seg in parents:
            nxt = where.items if seg == "[]" else where.wildcard if seg == "*" else None
            nxt = nxt or where.children.get(seg)
            assert nxt is not None, f"docs/JSON.md: {key!r} comes before a row for its parent"
            where = nxt
        if last == "[]":
            assert where.items is None, f"docs/JSON.md: {key!r} is described twice"
            where.items = node
        elif last == "*":
            where.wildcard = node
        else:
            assert last not in where.children, f"docs/JSON.md: {key!r} is described twice"
            where.children[last] = node
    return sections


# -- checking a value against a node ------------------------------------------------------------


def _is(value: Any, kind: str) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": number,
        "boolean": isinstance(value, bool),
        "null": value is None,
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "any": True,
    }[kind]


def check(value: Any, node: Node, where: str, shapes: dict[str, Node]) -> list[str]:
    """Every way ``value`` (at path ``where``) differs from ``node``; [] when it matches."""
    errors: list[str] = []
    for kind in node.types:
        if kind not in BASIC:  # a shape
            if not isinstance(value, dict):
                continue
            if node.children:  # a shape plus keys of its own (`[]` a run record, `[].vs_best`)
                own = Node(["object"], children=node.children, wildcard=node.wildcard)
                own.extends = [kind, *node.extends]
                found = _check_object(value, own, where, shapes)
            else:
                found = check(value, shapes[kind], where, shapes)
            if not found:
                return []
            errors = found
        elif _is(value, kind):
            if kind == "object":
                return _check_object(value, node, where, shapes)
            if kind == "array" and node.items is not None:
                return [
                    e
                    for i, item in enumerate(value)
                    for e in check(item, node.items, f"{where}[{i}]", shapes)
                ]
            return []
    return errors or [f"{where or 'the output'}: {json.dumps(value)[:60]} is not {node.types}"]


def _check_object(
    value: dict[str, Any], node: Node, where: str, shapes: dict[str, Node]
) -> list[str]:
    children, wildcard = dict(node.children), node.wildcard
    for name in node.extends:
        children = {**shapes[name].children, **children}
        wildcard = wildcard or shapes[name].wildcard
    if not children and wildcard is None:
        return []  # an object the doc leaves open
    errors = [
        f"{where}.{k}: missing" for k, c in children.items() if c.required and k not in value
    ]
    for key, item in value.items():
        child = children.get(key, wildcard)
        if child is None:
            errors.append(f"{where}.{key}: not in docs/JSON.md")
        else:
            errors += check(item, child, f"{where}.{key}", shapes)
    return errors


@pytest.fixture(scope="module")
def schema() -> dict[str, Node]:
    return parse_doc(DOC.read_text(encoding="utf-8"))


def _validate(name: str, output: str, schema: dict[str, Node]) -> None:
    errors = check(json.loads(output), schema[name], "", schema)
    assert not errors, f"{name} --json differs from docs/JSON.md:\n" + "\n".join(errors[:20])


# -- the doc itself ----------------------------------------------------------------------------


def _json_commands() -> set[str]:
    """``tk ...`` of every command (or group callback) that takes --json."""
    import typer.main

    from toolkit.cli import app

    def walk(cmd: Any, path: str) -> Iterator[str]:
        if any("--json" in getattr(p, "opts", ()) for p in cmd.params):
            yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    return set(walk(typer.main.get_command(app), "tk"))


def test_every_command_with_json_has_a_table_and_every_shape_is_defined(
    schema: dict[str, Node],
) -> None:
    commands = {name for name in schema if name.startswith("tk ")}
    assert commands == _json_commands()
    shapes = {name for name in schema if not name.startswith("tk ")}

    def used(node: Node) -> Iterator[str]:
        yield from (t for t in node.types if t not in BASIC)
        yield from node.extends
        for child in [*node.children.values(), node.wildcard, node.items]:
            if child is not None:
                yield from used(child)

    referenced = {name for node in schema.values() for name in used(node)}
    assert referenced == shapes  # each shape is defined, and used


def test_the_checker_finds_a_missing_key_an_extra_key_and_a_wrong_type(
    schema: dict[str, Node],
) -> None:
    good = {"file": "a.csv", "metric": "accuracy", "direction": "maximize", "score": 0.9}
    assert check({**good, "accuracy": 0.9}, schema["tk score"], "", schema) == []
    bad = {"metric": "accuracy", "direction": "maximize", "score": "0.9", "accuracy": "x"}
    errors = check(bad, schema["tk score"], "", schema)
    assert len(errors) == 3, errors  # file missing, score a string, a non-number under *
    record = {"id": "x", "status": "completed", "surprise": 1}
    errors = check([record], schema["tk runs"], "", schema)
    assert ".surprise: not in docs/JSON.md" in "\n".join(errors)


# -- every command, run ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sandbox:
    root: Path
    digits: Path
    run_id: str
    study: str
    csv: Path


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Digits, one run, a two-trial study and a submission from it, and a study whose greedy
    soup beats its best trial, in a temporary folder."""
    from tests.tune.conftest import write_study
    from toolkit.data import load_competition, make_example
    from toolkit.submit import make_submission, study_runs
    from toolkit.train import TrainConfig, train
    from toolkit.tune import load_spec, tune

    root = tmp_path_factory.mktemp("json")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("RUNS", "STUDIES", "SUBMISSIONS", "CACHE"):
            mp.setenv(f"TOOLKIT_{var}", str(root / var.lower()))
        mp.chdir(root)
        digits = make_example("digits", root / "digits")
        comp = load_competition(digits)
        cfg = TrainConfig(encoder="pixels", loss="softmax-ce", head="linear-probe", head_epochs=2)
        run = train(cfg, comp, quiet=True)
        spec = load_spec(write_study(root, name="js", trials=2, epochs=2))
        tune(spec, str(digits), quiet=True)
        result = make_submission(study_runs("js", None, 1), None, study="js")
        from tests.tune.test_soup import write_soup_study

        tune(load_spec(write_soup_study(root)), str(digits), quiet=True)  # tk soup's study
        yield Sandbox(root, digits, run.run_id, "js", result.csv_path)


COMMANDS: dict[str, Callable[[Sandbox], list[str]]] = {
    "tk data check": lambda s: ["data", "check", str(s.digits), "--quiet"],
    "tk plugins list": lambda s: ["plugins", "list"],
    "tk plugins show": lambda s: ["plugins", "show", "fastnet"],
    "tk train": lambda s: [
        "train",
        str(s.digits),
        "--encoder",
        "pixels",
        "--head",
        "linear-probe",
        "--set",
        "head_epochs=2",
        "--quiet",
    ],
    "tk refit": lambda s: ["refit", s.run_id, "--quiet"],
    "tk lr-find": lambda s: ["lr-find", str(s.digits), "--steps", "10", "--quiet"],
    "tk predict": lambda s: ["predict", s.run_id, str(s.digits / "test")],
    "tk runs": lambda s: ["runs"],
    "tk runs show": lambda s: ["runs", "show", s.run_id],
    "tk study list": lambda s: ["study", "list"],
    "tk study show": lambda s: ["study", "show", s.study],
    "tk submit": lambda s: ["submit", "--run", s.run_id],
    "tk score": lambda s: ["score", str(s.csv)],
    "tk soup": lambda s: ["soup", "soup"],
    "tk leaderboard": lambda s: ["leaderboard"],
    "tk assignment": lambda s: ["assignment", str(s.digits), "--budget", "4s", "--quiet"],
}


def test_each_command_is_run_here() -> None:
    assert set(COMMANDS) == _json_commands()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_commands_json_is_as_documented(
    name: str,
    sandbox: Sandbox,
    schema: dict[str, Node],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_main(capsys, *COMMANDS[name](sandbox), "--json")
    assert code == 0, err
    _validate(name, out, schema)
