"""What ``tk`` prints: tables that never fold an id or a number at 80 and 160 columns, flags
without placeholders, --version, --quiet on submit, $TOOLKIT_STORAGE, storage strings Optuna
accepts, durations, and one-line errors for --set, pruned runs and unknown competitions."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests._cli import run_main
from tests.corpus.conftest import Sandbox, sandbox, snapshot, trained_run
from toolkit.cli._common import Column, Listing, listing, print_listing

__all__ = ["sandbox", "trained_run"]  # fixtures

WIDTHS = (80, 160)
LONG_ID = "20261201-065803-fastnet-softmax-ce-finetune-1a2b"


def render(fitted: Listing, width: int) -> list[str]:
    from rich.console import Console

    out = io.StringIO()
    print_listing(fitted, Console(file=out, width=width, markup=False, color_system=None))
    return out.getvalue().splitlines()


def cells(lines: list[str]) -> list[str]:
    """Every table cell's text, one line at a time (a folded cell would come out in pieces)."""
    rows = [line.replace("┃", "│") for line in lines]  # the header row uses heavy bars
    return [c.strip() for line in rows if "│" in line for c in line.split("│")[1:-1]]


def assert_whole(lines: list[str], tokens: list[str]) -> None:
    found = cells(lines)
    for token in tokens:
        assert token in found, (token, "\n".join(lines))


def run_records(n: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "id": f"20261201-06580{i}-fastnet-softmax-ce-finetune-{i:04x}",
            "competition": "a-rather-long-competition-name",
            "config": {"encoder": "timm:resnet18", "loss": "softmax-ce", "head": "finetune"},
            "metrics": {"metric": "accuracy", "val_score": 0.97917 - i / 100, "test_score": 0.9},
            "status": "completed",
            "duration_s": 1234.5 + i,
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_runs_table_keeps_ids_and_numbers_whole(
    width: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.cli.train import runs_listing

    monkeypatch.setenv("TOOLKIT_RUNS", str(tmp_path))
    fitted = runs_listing(run_records(), width)
    lines = render(fitted, width)
    assert max(len(line) for line in lines) <= width
    assert_whole(lines, ["0000", "0001", "0002", "97.92%", "96.92%", "90.00%"])
    if width == 80:  # cut with an ellipsis first, then left out in the stated order
        cut = [c for c in cells(lines) if c.startswith("a-rather")]
        assert cut and all(c.endswith("…") for c in cut)  # the text column, cut
        assert fitted.dropped[0] == "time"
        assert "not shown at this width: time" in "\n".join(lines)
    else:
        assert fitted.dropped == ()
        assert_whole(lines, ["a-rather-long-competition-name", "1234.5s", "1236.5s"])
        assert "…" not in "\n".join(lines)


def test_listing_cuts_text_before_dropping_and_drops_in_order() -> None:
    columns = [
        Column("id", "id"),
        Column("text", min_width=6),
        Column("a", "number", drop=1),
        Column("b", "number", drop=2),
    ]
    rows = [(LONG_ID, "x" * 40, "123456789", "987654321")]
    wide = listing("t", columns, rows, 160)
    assert wide.dropped == () and wide.width <= 160
    cut = listing("t", columns, rows, 90)  # fits by cutting the text alone
    lines = render(cut, 90)
    assert cut.dropped == () and "…" in "\n".join(lines)
    assert_whole(lines, [LONG_ID, "123456789", "987654321"])
    narrow = listing("t", columns, rows, 80)  # text at its narrowest, then b (drop 2) goes
    assert narrow.dropped == ("b",)
    assert_whole(render(narrow, 80), [LONG_ID, "123456789"])
    tiny = listing("t", columns, rows, 30)  # nothing left to drop: longer lines, ids whole
    lines = render(tiny, 30)
    assert tiny.dropped == ("b", "a") and LONG_ID in cells(lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_study_tables_keep_names_ids_and_numbers_whole(
    width: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.cli.tune import studies_listing, trials_listing

    monkeypatch.setenv("TOOLKIT_RUNS", str(tmp_path))
    studies = [
        {
            "name": "compare-fastnet-long",
            "trials": 120,
            "complete": 100,
            "pruned": 15,
            "fail": 3,
            "running": 2,
            "metric": "accuracy",
            "best_value": 0.98765,
            "storage": str(tmp_path / "studies" / "compare-fastnet-long.journal"),
        }
    ]
    lines = render(studies_listing(studies, width), width)
    assert max(len(line) for line in lines) <= width
    assert_whole(lines, ["compare-fastnet-long", "120", "100", "98.77%"])
    rows = [
        {
            "number": n,
            "state": "pruned" if n % 2 else "complete",
            "pruned_at_eval": 3 if n % 2 else None,
            "value": 0.9 + n / 1000,
            "metric": "accuracy",
            "duration_s": 61.25,
            "run_id": f"20261201-06580{n}-fastnet-softmax-ce-finetune-{n:04x}",
            "pipeline": "fastnet+supcon+linear-probe" if n % 2 else "fastnet+softmax-ce+finetune",
            "params": {"lr": 0.00123 * (n + 1), "loss.label_smoothing": 0.1, "pipeline": "x"},
            "error": None,
            "best": n == 3,
        }
        for n in range(4)
    ]
    fitted = trials_listing("compare", rows, width)
    lines = render(fitted, width)
    assert max(len(line) for line in lines) <= width
    assert_whole(lines, ["0000", "0001", "0003", "90.00%", "90.30%", "*3", "pruned @eval 3"])
    if width == 160:
        assert fitted.dropped == ()
        assert_whole(lines, ["0.00123", "0.00492", "0.1", "61.2s", "loss.label_smoothing"])
    else:  # pipeline first, then the parameters from the last
        assert fitted.dropped[:2] == ("pipeline", "loss.label_smoothing")


def test_no_flag_shows_a_bool_placeholder(capsys: pytest.CaptureFixture[str]) -> None:
    from toolkit.cli import command

    def paths(cmd: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        out = [prefix]
        for name, sub in getattr(cmd, "commands", {}).items():
            out += paths(sub, (*prefix, name))
        return out

    every = paths(command())
    assert ("submit", "validate") in every and ("study", "show") in every
    for path in every:
        code, out, err = run_main(capsys, *path, "--help")
        assert code == 0, (path, err)
        assert "<bool>" not in out, path
    code, _, err = run_main(capsys, "runs", "--json", "true")
    assert code == 2  # a flag takes no value: the help says so by showing none


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    code, out, _ = run_main(capsys, "--version")
    assert code == 0 and out == f"tk (toolkit-ic) {version('toolkit-ic')}\n"


def test_set_without_equals_is_one_line_with_the_fix(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    comp = sandbox.warm(sandbox.kaggle())
    before = snapshot(sandbox.root)
    code, out, err = run_main(capsys, "train", str(comp), "--set", "lr", "0.01", "--quiet")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--set lr=0.01" in err and err.startswith("error: ")
    assert snapshot(sandbox.root) == before


def test_leaderboard_of_an_unknown_competition(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(sandbox.root)
    code, out, err = run_main(capsys, "leaderboard", "nope")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "unknown competition 'nope'" in err
    assert snapshot(sandbox.root) == before
    comp = sandbox.kaggle()  # a competition folder with no submissions yet is not unknown
    code, out, err = run_main(capsys, "leaderboard", str(comp))
    assert code == 0 and "Submissions (0)" in out


def test_submit_of_a_pruned_run_without_weights_is_one_line(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = sandbox.run()
    folder = sandbox.runs / run_id
    record = json.loads((folder / "run.json").read_text())
    record.update(status="pruned", error="pruned at evaluation 2 (score 0.5000)")
    (folder / "run.json").write_text(json.dumps(record))
    (folder / "checkpoint.safetensors").unlink()
    before = snapshot(sandbox.root)
    code, out, err = run_main(capsys, "submit", "--run", run_id[-4:])  # the short id
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "warning" not in err
    assert f"run {run_id} was pruned at evaluation 2" in err and "weights were not kept" in err
    assert snapshot(sandbox.root) == before


def test_submit_takes_quiet_and_a_short_id(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = sandbox.run()
    code, out, err = run_main(capsys, "submit", "--run", run_id[-4:], "--quiet", "--json")
    assert code == 0, err
    assert err == ""
    assert json.loads(out)["runs"][0]["run_id"] == run_id


def test_storage_from_the_environment_and_as_optuna_takes_it(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna

    from toolkit.tune.storage import open_storage

    journal = sandbox.root / "elsewhere" / "shared.journal"
    study = optuna.create_study(storage=open_storage(f"journal:{journal}"), study_name="env")
    study.optimize(lambda t: t.suggest_float("lr", 0.001, 0.1), n_trials=2)
    monkeypatch.setenv("TOOLKIT_STORAGE", f"journal:{journal}")
    code, out, err = run_main(capsys, "study", "list", "--json")
    assert code == 0, err
    [listed] = json.loads(out)
    assert listed["name"] == "env" and listed["storage"] == str(journal)  # no "journal:"
    monkeypatch.setenv("COLUMNS", "160")
    code, out, err = run_main(capsys, "study", "show", "env")
    assert code == 0, err
    assert 'optuna-dashboard "$TOOLKIT_STORAGE"' in out
    assert f"storage: {journal}" in out and "journal:" not in out
    monkeypatch.delenv("TOOLKIT_STORAGE")
    code, out, err = run_main(capsys, "study", "show", "env", "--storage", str(journal))
    assert code == 0, err
    command = re.search(r"optuna trials (.*)", out)
    assert command is not None and f"--storage {journal}" in command.group(1)
    # what tk prints is what Optuna's own CLI opens
    from optuna.cli import _get_storage

    assert _get_storage(str(journal), None).get_all_studies()[0].study_name == "env"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0), ("1h30m", 5400.0)],
)
def test_durations_in_set_for_every_duration_setting(text: str, seconds: float) -> None:
    from toolkit.train.compose import command_line_settings, compose_config
    from toolkit.train.config import DURATION_KEYS

    for key in DURATION_KEYS:
        config = compose_config(settings=command_line_settings([f"{key}={text}"]))
        assert getattr(config, key) == seconds


@pytest.mark.parametrize("text", ["inf", "nan", "1e999", "10x", "1h30", "-5m"])
def test_bad_durations_are_refused(text: str) -> None:
    from toolkit.errors import ToolkitError
    from toolkit.train.compose import command_line_settings, compose_config

    with pytest.raises(ToolkitError, match="duration"):
        compose_config(settings=command_line_settings([f"budget={text}"]))


STUDY = """
[study]
trials = 1
timeout = "{timeout}"

[fixed]
budget = "{budget}"

[[pipelines]]
encoder = "pixels"
loss = "softmax-ce"
head = "linear-probe"
default_space = false
"""


def test_durations_in_study_files_and_errors_name_the_file_and_key(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.tune import load_spec

    good = sandbox.root / "good.toml"
    good.write_text(STUDY.format(timeout="1h30m", budget="10m"))
    spec = load_spec(good)
    assert spec.timeout == 5400.0 and spec.fixed["budget"] == "10m"
    comp = sandbox.warm(sandbox.kaggle())
    for name, timeout, budget, key in [
        ("bad-budget", "10m", "soon", "budget"),
        ("bad-timeout", "later", "10m", "timeout"),
    ]:
        path = sandbox.root / f"{name}.toml"
        path.write_text(STUDY.format(timeout=timeout, budget=budget))
        before = snapshot(sandbox.root)
        code, out, err = run_main(capsys, "tune", str(path), str(comp), "--quiet")
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert str(path) in err and key in err, err
        assert snapshot(sandbox.root) == before


def test_progress_shows_scores_as_the_tables_do() -> None:
    from toolkit.train.progress import Progress

    accuracy = Progress(quiet=True)
    accuracy.stage("finetune")
    status = {"epoch": 3, "loss": 0.31274, "val": 0.97917, "img_s": 1234.5}
    assert accuracy.status_text(status, 200) == (
        "val 97.92%  epoch 3  loss 0.3127  1,234 img/s"  # 1,234.5 rounds half to even
    )
    assert accuracy.status_text(status, 30) == "val 97.92%  epoch 3"  # whole fields only
    log_loss = Progress(quiet=True, metric="log_loss")
    log_loss.stage("finetune")
    assert log_loss.status_text({"val": 0.41237}, 80) == "val 0.4124"
    log_loss.stage("encoder")  # an embedding run's first stage reports kNN accuracy
    assert log_loss.status_text({"val": 0.5}, 80) == "val kNN 50.00%"
