"""``scaffold``: what it writes and what it refuses (running the result: tests/cli)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from toolkit.errors import ToolkitError
from toolkit.registry import scaffold


def registered_name(source: str) -> tuple[str, str]:
    """(registry, name) of the ``@<registry>.register("name", ...)`` decorator in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "register"
            and isinstance(node.func.value, ast.Name)
        ):
            arg = node.args[0]
            assert isinstance(arg, ast.Constant)
            return node.func.value.id, arg.value
    raise AssertionError("no register call")


@pytest.mark.parametrize(
    ("kind", "registry"),
    [("encoder", "encoders"), ("loss", "losses"), ("head", "heads"), ("losses", "losses")],
)
def test_scaffold_writes_a_plugin_and_its_test(tmp_path: Path, kind: str, registry: str) -> None:
    plugin, test = scaffold(kind, "my-thing", tmp_path / "new" / "dir")
    assert plugin == tmp_path / "new" / "dir" / "my_thing.py"
    assert test == tmp_path / "new" / "dir" / "test_my_thing.py"
    source = plugin.read_text()
    compile(source, str(plugin), "exec")
    compile(test.read_text(), str(test), "exec")
    assert registered_name(source) == (registry, "my-thing")
    assert "class MyThing(" in source
    assert 'with_name("my_thing.py")' in test.read_text()
    assert "def test_my_thing_builds_and_trains" in test.read_text()


def test_scaffold_refuses_to_overwrite(tmp_path: Path) -> None:
    plugin, _ = scaffold("head", "mine", tmp_path)
    plugin.write_text("# edited by hand\n")
    with pytest.raises(ToolkitError, match=r"mine\.py already exists"):
        scaffold("encoder", "mine", tmp_path)
    assert plugin.read_text() == "# edited by hand\n"
    plugin.unlink()
    with pytest.raises(ToolkitError, match=r"test_mine\.py already exists"):
        scaffold("encoder", "mine", tmp_path)  # the test file alone also blocks
    assert not plugin.exists()


def test_scaffold_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(ToolkitError, match="unknown plugin kind 'optimizer'"):
        scaffold("optimizer", "mine", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["9lives", "my thing", "class", "a:b", "", "-x"])
def test_scaffold_refuses_names_that_cannot_be_modules(tmp_path: Path, name: str) -> None:
    with pytest.raises(ToolkitError, match="cannot become a module name"):
        scaffold("encoder", name, tmp_path)
    assert list(tmp_path.iterdir()) == []
