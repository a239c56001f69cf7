"""``tk plugins list / show / new``, driven through the Typer app and ``toolkit.cli.main``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests._cli import run_main
from toolkit.cli import app
from toolkit.registry import Choice, Float, Int, encoders, heads, losses

pytestmark = pytest.mark.usefixtures("clean_registry", "wide_terminal")

MakeDist = Callable[..., Path]  # the fake_dist fixture (tests/conftest.py)
KINDS = {"encoder": "scaf-enc", "loss": "scaf-loss", "head": "scaf-head"}


@pytest.fixture
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich sizes its output from $COLUMNS: wide enough that no table cell wraps."""
    monkeypatch.setenv("COLUMNS", "250")


def run(*args: str) -> Any:
    """Invoke ``tk`` in-process through Typer's test runner."""
    return CliRunner().invoke(app, list(args))


def table_rows(output: str) -> dict[str, list[str]]:
    """Rich table body rows keyed by their first cell."""
    rows = {}
    for line in output.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[0]] = cells
    return rows


def make_encoder(in_channels: int, image_size: int, width: int = 32, depth: int = 4) -> None:
    """A test encoder: four convolutions.

    The rest of the docstring is not shown in listings.
    """


def make_loss(num_classes: int, margin: float, weights: list[float] | None = None) -> None:
    """Scales logits into [low, high] before the softmax."""


def make_head(in_features: int, num_classes: int, dropout: float = 0.1) -> None:
    """A test head."""


@pytest.fixture
def plugins() -> None:
    encoders.register(
        "tst-enc",
        make_encoder,
        space={"width": Int(16, 128, log=True), "train.lr": Float(1e-4, 1e-1, log=True)},
    )
    losses.register("tst-loss", make_loss, space={"margin": Choice((0.1, 0.2))})
    heads.register("tst-head", make_head)


# -- list ------------------------------------------------------------------------------------


def test_list_prints_a_table(plugins: None) -> None:
    result = run("plugins", "list", "tst-*")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "name" in line)
    assert [c.strip() for c in header.strip("┃").split("┃")] == [
        "name",
        "kind",
        "source",
        "summary",
        "status",
    ]
    rows = table_rows(result.stdout)
    assert rows["tst-enc"] == [
        "tst-enc",
        "encoder",
        __file__,
        "A test encoder: four convolutions.",
        "ok",
    ]
    assert rows["tst-loss"][1] == "loss"
    assert rows["tst-head"][1:] == ["head", __file__, "A test head.", "ok"]


def test_list_prints_plugin_text_literally(plugins: None) -> None:
    # Regression: Rich read "[low, high]" in a docstring as a style tag and dropped it.
    result = run("plugins", "list", "tst-loss")
    assert result.exit_code == 0
    assert "Scales logits into [low, high] before the softmax." in result.stdout


def test_list_filters_by_kind_and_pattern(plugins: None) -> None:
    assert set(table_rows(run("plugins", "list", "--kind", "loss", "tst-*").stdout)) == {
        "tst-loss"
    }
    assert set(table_rows(run("plugins", "list", "-k", "heads", "tst-*").stdout)) == {"tst-head"}
    assert set(table_rows(run("plugins", "list", "tst-*e*").stdout)) == {"tst-enc", "tst-head"}


def test_list_json(plugins: None) -> None:
    result = run("plugins", "list", "--json", "tst-*")
    assert result.exit_code == 0
    data = {d["name"]: d for d in json.loads(result.stdout)}
    assert set(data) == {"tst-enc", "tst-loss", "tst-head"}
    enc = data["tst-enc"]
    assert enc["kind"] == "encoder"
    assert enc["source"] == __file__
    assert enc["summary"] == "A test encoder: four convolutions."
    assert enc["status"] == "ok"
    assert enc["space"]["width"] == {"type": "int", "low": 16, "high": 128, "log": True}
    assert [p["name"] for p in enc["params"]] == ["width", "depth"]
    assert data["tst-loss"]["params"][0] == {
        "name": "margin",
        "default": None,
        "required": True,
        "type": "float",
    }


def test_list_shows_a_broken_entry_point_next_to_working_ones(
    fake_dist: MakeDist, plugins: None
) -> None:
    fake_dist(
        "tst-broken-dist",
        {"toolkit.encoders": {"tst-broken": "tst_cli_broken:make"}},
        {"tst_cli_broken": "raise ImportError('needs a missing library')\n"},
    )
    rows = table_rows(run("plugins", "list", "tst-*").stdout)
    assert rows["tst-broken"][1:3] == ["encoder", "tst-broken-dist"]
    assert "ImportError: needs a missing library" in rows["tst-broken"][3]
    assert rows["tst-broken"][4] == "broken"
    assert rows["tst-enc"][4] == "ok"

    data = {d["name"]: d for d in json.loads(run("plugins", "list", "--json", "tst-*").stdout)}
    assert data["tst-broken"]["status"] == "broken"
    assert "needs a missing library" in data["tst-broken"]["error"]
    assert data["tst-enc"]["status"] == "ok"


def test_list_shows_a_broken_plugin_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "bad.py").write_text("raise ValueError('oops [/bold] here')\n")
    (folder / "good.py").write_text(
        "from toolkit.registry import heads\n"
        "heads.register('tst-file-good', lambda in_features, num_classes: None)\n"
    )
    # Broken files are listed whatever the pattern (their plugins' names are unknown).
    code, out, _ = run_main(capsys, "--plugins", str(folder), "plugins", "list", "--json", "tst-*")
    assert code == 0
    data = {d["source"]: d for d in json.loads(out)}
    bad = data[str(folder / "bad.py")]
    assert bad["status"] == "broken" and bad["error"] == "ValueError: oops [/bold] here"
    assert data[str(folder / "good.py")]["status"] == "ok"

    # The table prints the error as text (a stray "[/bold]" must not crash Rich's markup).
    code, out, _ = run_main(capsys, "--plugins", str(folder), "plugins", "list", "tst-*")
    assert code == 0
    assert "oops [/bold] here" in out and "tst-file-good" in out


def test_list_unknown_kind_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "plugins", "list", "--kind", "optimizer")
    assert code == 2 and out == ""
    assert err.startswith("error: unknown plugin kind 'optimizer'")


# -- show ------------------------------------------------------------------------------------


def test_show_prints_parameters_and_space(plugins: None) -> None:
    result = run("plugins", "show", "tst-enc")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[0] == (f"tst-enc (encoder) from {__file__}  ({__name__}:make_encoder)")
    assert "A test encoder: four convolutions." in out
    params = table_rows(out.split("Search space")[0])
    assert params["width"] == ["width", "int", "32"]
    assert params["depth"] == ["depth", "int", "4"]
    space = table_rows(out.split("Search space")[1])
    assert space["width"] == ["width", "int [16, 128] (log)"]
    assert space["train.lr"] == ["train.lr", "float [0.0001, 0.1] (log)"]


def test_show_required_parameters_choices_and_literal_types(plugins: None) -> None:
    result = run("plugins", "show", "tst-loss")
    assert result.exit_code == 0
    params, space = result.stdout.split("Search space")
    rows = table_rows(params)
    assert rows["margin"] == ["margin", "float", "(required)"]
    # Regression: "list[float]" lost "[float]" to Rich markup (and to a bare __name__).
    assert rows["weights"] == ["weights", "list[float] | None", "None"]
    assert table_rows(space)["margin"] == ["margin", "one of [0.1, 0.2]"]
    assert "Scales logits into [low, high] before the softmax." in result.stdout


def test_show_json(plugins: None) -> None:
    result = run("plugins", "show", "tst-enc", "--json")
    data = json.loads(result.stdout)
    assert data["name"] == "tst-enc" and data["kind"] == "encoder"
    assert data["space"]["train.lr"] == {"type": "float", "low": 1e-4, "high": 0.1, "log": True}
    assert {p["name"]: p["default"] for p in data["params"]} == {"width": 32, "depth": 4}


def test_show_a_name_shared_by_two_kinds(plugins: None, capsys: pytest.CaptureFixture) -> None:
    encoders.register("tst-head", make_encoder)
    code, _, err = run_main(capsys, "plugins", "show", "tst-head")
    assert code == 2
    assert "several kinds" in err and "--kind" in err
    code, out, _ = run_main(capsys, "plugins", "show", "tst-head", "--kind", "head")
    assert code == 0 and "tst-head (head)" in out


def test_show_a_broken_plugin_exits_2(
    fake_dist: MakeDist, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_dist(
        "tst-broken-dist",
        {"toolkit.heads": {"tst-broken": "tst_cli_missing_module:make"}},
    )
    code, out, _ = run_main(capsys, "plugins", "show", "tst-broken")
    assert code == 2
    assert "broken:" in out
    assert "No module named 'tst_cli_missing_module'" in out


def test_show_unknown_name_suggests_close_ones(
    plugins: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, "plugins", "show", "tst-encc")
    assert code == 2 and out == ""
    assert err.startswith("error: unknown plugin 'tst-encc'; did you mean: tst-enc")
    assert err.endswith("'tk plugins list' shows all plugins.\n")
    assert err.count("\n") == 1


# -- new -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One scaffolded plugin per kind, its generated test already running in a subprocess.

    The three pytest runs start at once and are awaited by the tests that need them.
    """
    root = tmp_path_factory.mktemp("scaffold")
    env = {k: v for k, v in os.environ.items() if k not in ("TOOLKIT_PLUGINS", "TOOLKIT_DEBUG")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the generated test needs no pytest plugins
    runs: dict[str, Any] = {}
    for kind, name in KINDS.items():
        folder = root / kind
        result = run("plugins", "new", kind, name, "--dir", str(folder))
        assert result.exit_code == 0, result.output
        module = name.replace("-", "_")
        test_file = folder / f"test_{module}.py"
        assert result.stdout.splitlines()[:2] == [
            f"wrote {folder / f'{module}.py'}",
            f"wrote {test_file}",
        ]
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", str(test_file)],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        runs[kind] = {"folder": folder, "name": name, "test_file": test_file, "proc": proc}
    yield runs
    for entry in runs.values():
        if entry["proc"].poll() is None:
            entry["proc"].kill()
            entry["proc"].wait()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_new_plugin_test_passes_as_generated(scaffolded: dict[str, Any], kind: str) -> None:
    proc = scaffolded[kind]["proc"]
    output, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, output
    assert "1 passed" in output


def test_new_plugins_list_as_ok_with_plugins_option(
    scaffolded: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    args = []
    for entry in scaffolded.values():
        args += ["--plugins", str(entry["folder"])]
    code, out, err = run_main(capsys, *args, "plugins", "list", "--json", "scaf-*")
    assert code == 0, err
    data = {d["name"]: d for d in json.loads(out)}
    for kind, entry in scaffolded.items():
        info = data[entry["name"]]
        assert info["kind"] == kind
        assert info["status"] == "ok", info["error"]
        assert info["source"] == str(entry["folder"] / f"{entry['name'].replace('-', '_')}.py")
        assert info["space"]  # every template declares a search space
        assert all(d["type"] in {"int", "float", "choice"} for d in info["space"].values())


def test_new_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run_main(capsys, "plugins", "new", "head", "mine", "--dir", str(tmp_path))
    assert code == 0
    plugin = tmp_path / "mine.py"
    before = plugin.read_text()
    code, out, err = run_main(capsys, "plugins", "new", "encoder", "mine", "--dir", str(tmp_path))
    assert code == 2 and out == ""
    assert err == f"error: {plugin} already exists; choose another name or --dir.\n"
    assert plugin.read_text() == before


def test_new_unknown_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "plugins", "new", "sampler", "mine", "--dir", str(tmp_path))
    assert code == 2
    assert err.startswith("error: unknown plugin kind 'sampler'")
    assert not any(tmp_path.iterdir())
