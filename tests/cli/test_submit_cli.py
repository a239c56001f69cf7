"""``tk submit``, ``tk submit validate``, ``tk score`` and ``tk leaderboard`` end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests._cli import run_main as tk
from tests._runs import tiny_run
from toolkit.cli import app


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One tiny run (pixels + linear probe) on the digits example, with its own cache/runs."""
    from toolkit.data import load_competition, make_example

    base = tmp_path_factory.mktemp("submit-cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLKIT_CACHE", str(base / "cache"))
        mp.setenv("TOOLKIT_RUNS", str(base / "runs"))
        comp = load_competition(make_example("digits", base / "digits"))
        yield tiny_run(comp)


@pytest.fixture(autouse=True)
def env(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOOLKIT_CACHE", str(run_dir.parent.parent / "cache"))
    monkeypatch.setenv("TOOLKIT_RUNS", str(run_dir.parent))
    monkeypatch.setenv("TOOLKIT_SUBMISSIONS", str(tmp_path / "subs"))
    monkeypatch.setenv("TOOLKIT_DEBUG", "0")
    return tmp_path / "subs"


def submit_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code, out, err = tk(capsys, "submit", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_submit_a_run_prints_the_kaggle_command(
    run_dir: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = tk(capsys, "submit", "--run", run_dir.name, "--name", "first")
    assert code == 0, err
    files = sorted(p.name for p in (env / "digits").iterdir())
    assert len(files) == 2 and files[0].endswith("-first.csv") and files[1].endswith(".json")
    assert "kaggle competitions submit -c digits -f" in out.replace("\n", " ")
    prov = json.loads((env / "digits" / files[1]).read_text())
    assert prov["runs"][0]["run_id"] == run_dir.name


def test_submit_json_with_tta_slug_and_prefix(
    run_dir: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = submit_json(
        capsys,
        "--run",
        run_dir.name[:15],
        "--no-tta",
        "--slug",
        "digit-recognizer",
        "--name",
        "../../etc/x",
    )
    assert data["tta"] is None and data["runs"][0]["tta"] is None
    assert "-c digit-recognizer" in data["kaggle_command"]
    assert Path(data["csv_path"]).parent == env / "digits" and data["csv_path"].endswith(
        "-etc-x.csv"
    )


def test_a_flip_the_run_never_trained_with_is_refused_in_one_line(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = tk(capsys, "submit", "--run", run_dir.name, "--tta-flip")
    assert code == 2 and "trained without flips" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_submit_needs_exactly_one_source(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (
        (),
        ("--run", run_dir.name, "--study", "s"),
        ("--run", run_dir.name, "--top-k", "2"),
    ):
        code, _, err = tk(capsys, "submit", *args)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, (args, err)
    code, _, err = tk(capsys, "submit", "--run", "no-such-run")
    assert code == 2 and "unknown run" in err


def test_validate_ok_and_each_error_is_one_line(
    run_dir: Path, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = Path(submit_json(capsys, "--run", run_dir.name)["csv_path"])
    code, out, err = tk(capsys, "submit", "validate", str(csv_path))
    assert code == 0 and out.startswith("OK: ") and out.count("\n") == 1, err

    lines = csv_path.read_text().splitlines()
    comp = json.loads(csv_path.with_suffix(".json").read_text())["competition_path"]
    cases = {
        "wrong column order": ["label,id", *(",".join(r.split(",")[::-1]) for r in lines[1:])],
        "duplicate id": [*lines, lines[1]],
        "missing id": lines[:-1],
        "label form": [lines[0], lines[1].split(",")[0] + ",3.0", *lines[2:]],
    }
    for rule, text in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text("\n".join(text) + "\n")
        code, out, err = tk(capsys, "submit", "validate", str(bad), comp)
        assert code == 2 and err.startswith(f"error: {rule}: ") and err.count("\n") == 1, err
    code, _, err = tk(capsys, "submit", "validate", str(tmp_path / "bad.csv"))
    assert code == 2 and "COMPETITION" in err


def test_score_and_leaderboard(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    made = submit_json(capsys, "--run", run_dir.name, "--name", "lb")
    code, out, err = tk(capsys, "score", made["csv_path"], "--json")
    assert code == 0, err
    score = json.loads(out)["accuracy"]
    assert score == pytest.approx(made["local_test_score"], abs=1e-6)

    code, out, err = tk(capsys, "leaderboard", "--json")
    assert code == 0, err
    entries = json.loads(out)
    assert [e["file"] for e in entries] == [Path(made["csv_path"]).name]
    assert entries[0]["local_test_score"] == pytest.approx(score, abs=1e-6)
    code, out, _ = tk(capsys, "leaderboard", "digits")
    assert code == 0 and "Submissions (1)" in out
    code, _, err = tk(capsys, "score", "nope.csv")
    assert code == 2 and err.startswith("error: ")


def test_the_group_works_with_typer_cli_runner(run_dir: Path, env: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["submit", "--run", run_dir.name, "--json"])
    assert result.exit_code == 0, result.output
    csv_path = next((env / "digits").glob("*.csv"))
    result = runner.invoke(app, ["submit", "validate", str(csv_path)])
    assert result.exit_code == 0 and result.stdout.startswith("OK: ")
    result = runner.invoke(app, ["submit", "--help"])
    assert result.exit_code == 0 and "validate" in result.stdout and "--run" in result.stdout
