"""Security checks of issue 6 not covered elsewhere: storage passwords never printed or saved.

Covered elsewhere, not repeated here: ``--name ../../x`` stays inside submissions/
(tests/submit/test_paths.py, tests/cli/test_submit_cli.py); a pickle planted as a run's
checkpoint.safetensors or as a CIFAR batch is refused (the corpus, test_bad_input.py).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._cli import run_main as tk
from tests.corpus.conftest import Sandbox
from tests.tune.conftest import PG_URL
from toolkit.tune.storage import redact

SECRET = "corpus-s3cret"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://user:{SECRET}@db:5432/optuna",
        f"postgresql+psycopg://user:{SECRET}@db/optuna",
        f"postgresql://user:{SECRET}/x@db/optuna",  # a '/' in the password (SQLAlchemy allows it)
        f"postgresql://user:{SECRET}:x@db/optuna",
        f"postgresql://:{SECRET}@db/optuna",  # no user name
        f"postgresql://user@db/optuna?sslmode=require&password={SECRET}",  # libpq parameter
    ],
)
def test_redact_hides_every_form_of_password(url: str) -> None:
    shown = redact(url)
    assert SECRET not in shown and "***" in shown
    assert shown.split("://")[0] == url.split("://")[0]


def test_redact_keeps_urls_without_a_password() -> None:
    for url in ("postgresql://user@db:5432/optuna", "journal:/x/y.journal", "sqlite:///s.db"):
        assert redact(url) == url


def test_unreachable_storage_error_hides_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOOLKIT_DEBUG", "0")
    code, out, err = tk(
        capsys, "study", "list", "--storage", f"postgresql://u:{SECRET}@127.0.0.1:1/x"
    )
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: ")
    assert SECRET not in out + err and "u:***@127.0.0.1:1" in err


@pytest.fixture
def secret_url() -> Iterator[str]:
    """The test PostgreSQL, reached through a URL that carries a password (trust auth ignores
    it); skipped where there is no PostgreSQL, as in tests/tune."""
    import sqlalchemy

    url = sqlalchemy.engine.make_url(PG_URL)
    if url.password is None:
        url = url.set(password=SECRET)
    text = url.render_as_string(hide_password=False)
    try:
        engine = sqlalchemy.create_engine(text)
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
        engine.dispose()
    except Exception as err:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL not reachable at {redact(text)}: {err}")
    yield text


def test_password_is_redacted_in_tune_output_study_list_and_run_json(
    secret_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import uuid

    import optuna
    import sqlalchemy

    password = sqlalchemy.engine.make_url(secret_url).password
    assert password
    for var in ("RUNS", "STUDIES", "CACHE"):
        monkeypatch.setenv(f"TOOLKIT_{var}", str(tmp_path / var.lower()))
    monkeypatch.setenv("TOOLKIT_THREADS", "1")
    monkeypatch.setenv("TOOLKIT_DEBUG", "0")
    monkeypatch.chdir(tmp_path)
    comp = Sandbox(tmp_path, tmp_path).kaggle(per_class=4)
    name = f"redact-{uuid.uuid4().hex[:8]}"
    study = tmp_path / f"{name}.toml"
    study.write_text(
        textwrap.dedent(
            """
            [study]
            trials = 1
            pruner = "none"
            sampler = "random"

            [fixed]
            head_epochs = 2

            [[pipelines]]
            encoder = "pixels"
            loss = "softmax-ce"
            head = "linear-probe"
            default_space = false
            """
        )
    )
    try:
        code, out, err = tk(capsys, "tune", str(study), str(comp), "--storage", secret_url)
        assert code == 0, err
        printed = out + err
        code, listed, err = tk(capsys, "study", "list", "--storage", secret_url)
        assert code == 0, err
        printed += listed + err
        code, listed_json, err = tk(capsys, "study", "list", "--storage", secret_url, "--json")
        assert code == 0, err
        printed += listed_json + err
        assert password not in printed
        mine = [s for s in json.loads(listed_json) if s["name"] == name]
        assert mine and mine[0]["storage"] == redact(secret_url) and "***" in mine[0]["storage"]

        [run_json] = (tmp_path / "runs").glob("*/run.json")
        record = json.loads(run_json.read_text())
        assert record["storage"] == redact(secret_url)
        assert password not in run_json.read_text()
        for path in tmp_path.rglob("*"):
            if path.is_file() and path.suffix in (".json", ".csv", ".journal", ".toml"):
                assert password not in path.read_text(errors="replace"), path
    finally:
        optuna.delete_study(study_name=name, storage=secret_url)
