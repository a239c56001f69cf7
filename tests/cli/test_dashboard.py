"""``tk study show`` prints an ``optuna-dashboard`` command; the storage it names opens in
optuna-dashboard itself (its WSGI app, called in-process: no server, no network) and lists
the study with its trials."""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from tests._cli import run_main
from tests.tune.conftest import write_study
from toolkit.tune import load_spec, tune


def _get(app: Any, path: str) -> Any:
    from wsgiref.util import setup_testing_defaults

    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO()
    status: list[str] = []
    body = b"".join(app(environ, lambda s, headers, exc=None: status.append(s)))
    assert status[0].startswith("200"), (status, body[:200])
    return json.loads(body)


def test_the_printed_dashboard_command_opens_the_study(
    tune_env: Path, digits_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import optuna_dashboard

    tune(load_spec(write_study(tune_env, name="dash", trials=2)), str(digits_path), quiet=True)
    code, out, err = run_main(capsys, "study", "show", "dash")
    assert code == 0, err
    [line] = [x for x in out.splitlines() if "optuna-dashboard " in x]
    argv = shlex.split(line.partition("optuna-dashboard ")[2])
    assert len(argv) == 1  # the storage, as the command takes it
    app = optuna_dashboard.wsgi(argv[0])
    studies = _get(app, "/api/studies")["study_summaries"]
    [study] = [s for s in studies if s["study_name"] == "dash"]
    trials = _get(app, f"/api/studies/{study['study_id']}")["trials"]
    assert len(trials) == 2
