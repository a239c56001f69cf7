"""``tk study list/show/plot`` on a study that ``tune`` ran (``tk tune`` itself: tests/tune)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tune.conftest import write_study
from toolkit.tune import load_spec, tune


@pytest.mark.parametrize("cmd", [["study", "list"], ["study", "show"], ["study", "plot"]])
def test_study_commands(
    tune_env: Path, digits_path: Path, cmd: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.cli import main

    path = write_study(tune_env, name="cli", trials=3)
    tune(load_spec(path), str(digits_path), workers=1, quiet=True)
    args = cmd + (["cli"] if cmd[1] != "list" else []) + (["--json"] if cmd[1] != "plot" else [])
    try:
        main(args)
    except SystemExit as exit_:
        assert exit_.code in (0, None)
    out = capsys.readouterr().out
    if cmd[1] == "plot":
        assert (tune_env / "studies" / "cli-history.png").stat().st_size > 1000
    else:
        data = json.loads(out)
        if cmd[1] == "list":
            assert [s["name"] for s in data] == ["cli"] and data[0]["complete"] == 3
        else:
            assert len(data) == 3 and sum(r["best"] for r in data) == 1
