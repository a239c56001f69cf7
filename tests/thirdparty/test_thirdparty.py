"""A real third-party package, installed with pip, adds an encoder without touching toolkit.

``toolkit_tiny_encoder`` declares ``tiny = "tiny_encoder:TinyEncoder"`` in the
``toolkit.encoders`` entry-point group and registers nothing itself; ``toolkit_broken_plugin``
ships one entry point whose module raises ImportError and one to a module it does not ship.
Both are built from a copy (so no build/ or *.egg-info lands in the source tree) and installed
offline into a temporary folder that only the subprocesses below see, through PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).parent
PACKAGES = ("toolkit_tiny_encoder", "toolkit_broken_plugin")
TK = Path(sys.executable).parent / "tk"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder both packages are pip-installed into (``--target``)."""
    work = tmp_path_factory.mktemp("thirdparty")
    sources = []
    for package in PACKAGES:
        copy = work / "src" / package
        shutil.copytree(HERE / package, copy, ignore=shutil.ignore_patterns("__pycache__"))
        sources.append(str(copy))
    target = work / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            *sources,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def env_with(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TOOLKIT_PLUGINS", "TOOLKIT_DEBUG")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "250"  # wide Rich tables: no wrapped cells
    return env


def run(site: Path, *command: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(command), capture_output=True, text=True, env=env_with(site), timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_installed_encoder_is_listed_ok_and_broken_ones_as_broken(site: Path) -> None:
    listing = json.loads(run(site, str(TK), "plugins", "list", "--json").stdout)
    infos = {(d["kind"], d["name"]): d for d in listing}

    tiny = infos[("encoder", "tiny")]
    assert tiny["status"] == "ok", tiny["error"]
    assert tiny["source"] == "toolkit-tiny-encoder"  # the distribution name
    assert tiny["target"] == "tiny_encoder:TinyEncoder"
    assert tiny["summary"] == (
        "Tiny conv encoder: one 3x3 conv, global average pool, linear embedding."
    )
    assert [(p["name"], p["default"]) for p in tiny["params"]] == [
        ("width", 4),
        ("embedding_dim", 8),
        ("dropout", 0.0),
    ]
    assert tiny["space"] == {
        "width": {"type": "int", "low": 2, "high": 16, "log": True},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5, "log": False},
    }

    broken = infos[("encoder", "tiny-broken")]
    assert broken["status"] == "broken"
    assert broken["source"] == "toolkit-broken-plugin"
    assert "ImportError: toolkit-broken-plugin needs libtiny" in broken["error"]

    missing = infos[("head", "tiny-missing")]
    assert missing["status"] == "broken"
    assert "No module named 'tiny_not_shipped'" in missing["error"]

    # Whatever else is installed is still listed, each entry ok or broken with a reason.
    assert all(d["status"] == "ok" or d["error"] for d in listing)


def table_rows(output: str) -> dict[str, list[str]]:
    """Rich table body rows keyed by their first cell."""
    rows = {}
    for line in output.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[0]] = cells
    return rows


def test_installed_encoder_is_imported_on_first_use_and_runs(site: Path) -> None:
    # One interpreter for several checks: each subprocess pays for importing torch.
    script = textwrap.dedent(
        """
        import json, sys

        import torch

        from toolkit.cli import main
        from toolkit.errors import ToolkitError
        from toolkit.registry import encoders

        assert "tiny" in encoders.names("tiny*")
        assert "tiny_encoder" not in sys.modules, "listing must not import the plugin"
        model = encoders.create("tiny", in_channels=3, image_size=8, width=6)
        assert "tiny_encoder" in sys.modules
        out = model(torch.randn(2, 3, 8, 8))  # (B, C, H, W) -> (B, D)
        out.sum().backward()
        try:
            encoders.create("tiny", in_channels=3, image_size=8, widht=6)
            unknown = None
        except ToolkitError as err:
            unknown = str(err)
        info = encoders.info("tiny")
        main(["plugins", "list", "tiny*"])  # the Rich table
        print(json.dumps({
            "shape": list(out.shape),
            "out_dim": model.out_dim,
            "type": type(model).__name__,
            "source": info.source,
            "unknown": unknown,
        }))
        """
    )
    stdout = run(site, sys.executable, "-c", script).stdout
    result = json.loads(stdout.splitlines()[-1])
    assert result == {
        "shape": [2, 8],
        "out_dim": 8,
        "type": "TinyEncoder",
        "source": "toolkit-tiny-encoder",
        "unknown": "encoder 'tiny' has no parameter 'widht' (did you mean 'width'?); "
        "it accepts: dropout, embedding_dim, width.",
    }
    rows = table_rows(stdout)
    assert rows["tiny"][1:3] == ["encoder", "toolkit-tiny-encoder"]
    assert rows["tiny"][4] == "ok"
    assert rows["tiny-broken"][4] == "broken"
    assert rows["tiny-missing"][1:3] == ["head", "toolkit-broken-plugin"]
    assert rows["tiny-missing"][4] == "broken"


def test_source_tree_has_no_build_artifacts(site: Path) -> None:
    for package in PACKAGES:
        folder = HERE / package
        assert not (folder / "build").exists()
        assert not list(folder.glob("*.egg-info"))
        assert not (folder / "dist").exists()
