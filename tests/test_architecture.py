"""The package's shape: every import points down the stages, and no import goes round a circle.

Stages, lowest first (docs/ARCHITECTURE.md): errors/io -> data, metrics, registry -> runs ->
train -> tune -> submit -> the jobs (main_job, assignment) -> cli. Every import counts: at module
level, inside functions (lazy) and under ``TYPE_CHECKING``. Plugins see only the registry's
contract and errors.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "toolkit"

# Stage rank of each part of the package: an import may only go to a lower rank (or stay
# inside its own part). Parts of one rank do not import each other.
RANKS: dict[str, float] = {
    "toolkit.errors": 0,
    "toolkit.io": 0.25,  # raises errors' WriteError for a failed write
    "toolkit.data": 1,
    "toolkit.metrics": 1,
    "toolkit.registry": 1,
    "toolkit.runs": 2,
    "toolkit.train": 3,
    "toolkit.tune": 4,
    "toolkit.submit": 5,
    "toolkit.main_job": 6,
    "toolkit.assignment": 6,
    "toolkit.report": 6,  # tk report: reads runs, studies and submissions
    "toolkit.cli": 7,
    "toolkit.__main__": 8,
    "toolkit": 0.5,  # the package's own __init__: its version and the error type
}
PLUGINS_MAY_IMPORT = ("toolkit.registry", "toolkit.errors")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(p): p for p in sorted(root.rglob("*.py"))}


def imports(path: Path, name: str, known: dict[str, Path]) -> Iterator[str]:
    """Every module ``path`` imports (absolute or relative), resolved to a known module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                yield child if child in known else base


def part_of(module: str) -> str:
    """The stage a module belongs to: the longest RANKS key it starts with."""
    hits = [k for k in RANKS if module == k or module.startswith(k + ".")]
    return max(hits, key=len)


def graph() -> dict[str, set[str]]:
    known = modules(PACKAGE)
    return {
        name: {m for m in imports(path, name, known) if m in known and m != name}
        for name, path in known.items()
    }


def test_every_import_points_down_the_stages() -> None:
    upward = []
    for src, targets in graph().items():
        for dst in targets:
            a, b = part_of(src), part_of(dst)
            if a != b and RANKS[b] >= RANKS[a]:
                upward.append(f"{src} -> {dst}")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_plugins_see_only_the_registry_and_errors() -> None:
    known = modules(PACKAGE)
    bad = []
    for name, path in modules(ROOT / "plugins").items():
        for dst in imports(path, name, known):
            if dst.startswith("toolkit") and not dst.startswith(PLUGINS_MAY_IMPORT):
                bad.append(f"{name} -> {dst}")
    assert not bad, "plugins importing the core beyond its contract:\n" + "\n".join(bad)


def test_no_source_file_over_400_lines() -> None:
    long = [
        f"{p.relative_to(ROOT)}: {n}"
        for p in [*PACKAGE.rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    ]
    assert not long, "files over 400 lines:\n" + "\n".join(long)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The walk resolves lazy, relative and TYPE_CHECKING imports (so the tests above can fail)."""
    pkg = tmp_path / "toolkit" / "runs"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "x.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from toolkit.train.final import FinalMetrics\n"
        "def f():\n    from . import store\n"
    )
    known = {"toolkit.train.final": Path(), "toolkit.runs.store": Path()}
    found = set(imports(pkg / "x.py", "toolkit.runs.x", known))
    assert {"toolkit.train.final", "toolkit.runs.store"} <= found
    assert RANKS[part_of("toolkit.train.final")] > RANKS[part_of("toolkit.runs.x")]
