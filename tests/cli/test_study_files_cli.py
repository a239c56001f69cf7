"""Study files by name through the real CLI (``tk tune NAME``, ``tk study new``, ``tk run
--study``), and a failing ``tk run`` in an empty folder leaving that folder empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._cli import run_main
from toolkit.errors import ToolkitError


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder; runs, studies and submissions at their defaults (inside it),
    the data cache outside it."""
    work = tmp_path / "work"
    work.mkdir()
    for var in ("TOOLKIT_RUNS", "TOOLKIT_STUDIES", "TOOLKIT_SUBMISSIONS", "TOOLKIT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(work)
    return work


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_study_new_writes_a_copy_and_never_overwrites(
    empty: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, "study", "new", "mine", "--from", "finetune")
    assert code == 0, err
    assert "wrote studies/mine.toml" in out and "tk tune studies/mine.toml COMPETITION" in out
    assert tree(empty) == ["studies", "studies/mine.toml"]
    before = (empty / "studies" / "mine.toml").read_bytes()

    code, out, err = run_main(capsys, "study", "new", "mine")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "error: studies/mine.toml already exists; edit it, or choose another name."
    ]
    assert (empty / "studies" / "mine.toml").read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["study", "new", "../up"], "study name '../up' is not a plain name"),
        (["study", "new", "mine", "--from", "nosuch"], "study file nosuch does not exist"),
        (["tune", "nosuch", "."], "study file nosuch does not exist"),
        (["run", "--study", "nosuch", "--quiet"], "study file nosuch does not exist"),
    ],
)
def test_a_missing_study_fails_in_one_line_and_writes_nothing(
    empty: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expect: str
) -> None:
    code, out, err = run_main(capsys, *argv)
    assert code == 2 and "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {expect}"), err
    assert tree(empty) == []  # tk run made no data/digits this time


def test_tk_run_that_fails_after_making_the_data_removes_it(
    empty: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example is made, then the metric is refused (log loss of a label file)."""
    code, _, err = run_main(capsys, "run", "--metric", "log_loss", "--quiet")
    assert code == 2 and len(err.splitlines()) == 1 and "log_loss" in err, err
    assert tree(empty) == []


def test_tk_run_that_fails_late_removes_the_data_but_keeps_older_folders(
    empty: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import toolkit.main_job

    def failing(*args: object, **kwargs: object) -> None:
        assert (empty / "data" / "digits" / "train.csv").is_file()  # made, then the job fails
        raise ToolkitError("the study failed.")

    monkeypatch.setattr(toolkit.main_job, "run_main_job", failing)
    code, _, err = run_main(capsys, "run", "--quiet")
    assert code == 2 and err.splitlines() == ["error: the study failed."]
    assert tree(empty) == []  # data/digits and the data/ it made are gone

    (empty / "data" / "mine").mkdir(parents=True)  # a data/ that was there before stays
    code, _, _ = run_main(capsys, "run", "--quiet")
    assert code == 2 and tree(empty) == ["data", "data/mine"]


def test_tune_takes_a_shipped_example_by_name(
    tune_env: Path, digits_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.tune import trial_rows

    assert not (tune_env / "studies").exists()  # nothing named compare in the working folder
    code, _, err = run_main(
        capsys, "tune", "compare", str(digits_path), "--trials", "1", "--quiet",
        "--set", "epochs=1", "--set", "head_epochs=2",
    )  # fmt: skip
    assert code == 0, err
    rows = trial_rows("compare", None)
    assert len(rows) == 1 and rows[0]["state"] == "complete"
    assert (tune_env / "studies" / "compare.journal").is_file()
