"""``tk`` itself: one-line user errors with exit 2, --debug tracebacks, a fast and light start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._cli import run_main
from toolkit.cli import main
from toolkit.errors import ToolkitError

pytestmark = pytest.mark.usefixtures("clean_registry")

TK = Path(sys.executable).parent / "tk"  # the console script installed with the package
HEAVY = ("torch", "timm", "optuna", "sklearn")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("TOOLKIT_PLUGINS", "TOOLKIT_DEBUG")}


def tk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TK), *args], capture_output=True, text=True, env=clean_env(), timeout=60
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plugins", "show", "nosuch"], "error: unknown plugin 'nosuch'"),
        (["--plugins", "/no/such/path", "plugins", "list"], "error: plugin path '/no/such/path'"),
        (["plugins", "list", "--kind", "nosuch"], "error: unknown plugin kind 'nosuch'"),
        (["plugins", "show", "nosuch", "--kind", "head"], "error: unknown head 'nosuch'"),
    ],
)
def test_user_error_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run_main(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1 and err.endswith("\n")  # exactly one line
    assert "Traceback" not in err


def test_plugins_environment_variable_error_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLKIT_PLUGINS", "/no/such/dir")
    code, _, err = run_main(capsys, "plugins", "list")
    assert code == 2
    assert err.startswith("error: plugin path '/no/such/dir' does not exist")
    assert err.count("\n") == 1


def test_debug_raises_the_error_with_its_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ToolkitError, match="unknown plugin 'nosuch'"):
        main(["--debug", "plugins", "show", "nosuch"])
    assert "error:" not in capsys.readouterr().err


def test_debug_environment_variable_also_shows_tracebacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOOLKIT_DEBUG", "1")
    with pytest.raises(ToolkitError):
        main(["plugins", "show", "nosuch"])


def test_console_script_error_and_debug_traceback() -> None:
    plain = tk("plugins", "show", "nosuch")
    assert plain.returncode == 2
    assert plain.stdout == ""
    assert plain.stderr.startswith("error: unknown plugin 'nosuch'")
    assert plain.stderr.count("\n") == 1

    debug = tk("--debug", "plugins", "show", "nosuch")
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr
    assert "toolkit.errors.ToolkitError: unknown plugin 'nosuch'" in debug.stderr


def test_help_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "--help")
    assert code == 0
    assert "Usage: tk" in out and "plugins" in out and "--plugins" in out


def test_plugins_help_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "plugins", "--help")
    assert code == 0
    for command in ("list", "show", "new"):
        assert command in out


def test_help_lists_the_commands() -> None:
    """How fast it starts is measured in benchmarks (tests/benchmarks/test_startup.py); here,
    that it works, and below, that it imports no heavy library (what keeps it fast)."""
    result = tk("--help")
    assert result.returncode == 0, result.stderr
    assert "plugins" in result.stdout


def test_importing_the_cli_imports_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "import toolkit.cli\n"
        "from toolkit.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(), timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []


@pytest.mark.parametrize(
    "args", [["plugins", "show"], ["plugins", "list", "--bogus"], ["nosuch-command"]]
)
def test_usage_error_exits_2_without_traceback(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, _, err = run_main(capsys, *args)
    assert code == 2
    assert "Traceback" not in err
