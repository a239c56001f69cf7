"""``tk run`` end to end on the bundled digits, with a quick study so it takes seconds."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from toolkit.cli import main

QUICK_COMPARE = """
[study]
trials = 3
sampler = "random"
seed = 1

[fixed]
epochs = 3
head_epochs = 15
batch_size = 64

[[pipelines]]
encoder = "pixels"
loss = "softmax-ce"
head = "linear-probe"
default_space = false
space = { head_lr = { type = "float", low = 0.01, high = 0.1, log = true } }

[[pipelines]]
encoder = "fastnet"
loss = "softmax-ce"
head = "finetune"
default_space = false
fixed = { "encoder.width" = 0.25 }
space = { lr = { type = "float", low = 2e-3, high = 5e-3, log = true } }
"""


def test_tk_run_end_to_end_on_digits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("TOOLKIT_RUNS", "TOOLKIT_STUDIES", "TOOLKIT_CACHE", "TOOLKIT_SUBMISSIONS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    study = tmp_path / "studies" / "quick.toml"
    study.parent.mkdir()
    study.write_text(textwrap.dedent(QUICK_COMPARE))
    try:
        main(["run", "--study", str(study), "--quiet"])
    except SystemExit as exit_:
        assert exit_.code in (0, None)
    out = capsys.readouterr().out
    assert "tk run: done" in out and "local test accuracy" in out
    # The bundled competition was made on first use, a study ran, a submission was written.
    assert (tmp_path / "data" / "digits" / "train.csv").is_file()
    assert (tmp_path / "studies" / "quick-digits.journal").is_file()
    csvs = list((tmp_path / "submissions" / "digits").glob("*.csv"))
    assert len(csvs) == 1
    provenance = json.loads(csvs[0].with_suffix(".json").read_text())
    assert provenance["study"] == "quick-digits"
    assert provenance["local_test_score"] >= 0.85
    header = csvs[0].read_text().splitlines()[0]
    assert header == "id,label"
