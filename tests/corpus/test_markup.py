"""User text is printed as written: labels, folder names and class names are never read as
Rich markup (``[/x]`` crashed ``tk data check``; ``comp[v2]`` showed as ``comp``; CIFAR's
lowercase class names vanished from ``val acc [airplane]`` rows)."""

from __future__ import annotations

import pytest

from tests.corpus.conftest import Sandbox
from toolkit.cli import main


def run_tk(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main([*args])
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_labels_and_folders_that_look_like_markup(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    classes = ("[/x]", "[airplane]")
    comp = sandbox.kaggle("comp[v2]", classes=classes, per_class=4)
    for name in ("sample_submission.csv",):
        text = (comp / name).read_text().replace(",cat", f",{classes[0]}")
        (comp / name).write_text(text)
    code, out, err = run_tk(capsys, "data", "check", str(comp))
    assert code == 0, err
    assert "Traceback" not in err
    assert "comp[v2]" in out + err and "[airplane]" in out + err, out

    code, out, err = run_tk(
        capsys,
        "train",
        str(comp),
        "--encoder",
        "pixels",
        "--loss",
        "softmax-ce",
        "--head",
        "linear-probe",
        "--set",
        "head_epochs=2",
        "--set",
        "val_fraction=0.25",
        "--quiet",
        "--json",
    )
    assert code == 0, err
    run_id = next(sandbox.runs.iterdir()).name
    code, out, err = run_tk(capsys, "runs", "show", run_id)
    assert code == 0, err
    assert "[airplane]" in out and "[/x]" in out, out  # per-class rows keep their class names
