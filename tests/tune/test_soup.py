"""Greedy soups: what is averaged, what is left out or refused, and the soup as a run that
``tk submit`` takes. Tiny runs (pixels + linear probe on digits, one seed) trained once; a
linear probe's soup predicts as the mean of its ingredients' logits, so these effects are
large and fixed."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._cli import run_main as tk
from tests._runs import tiny_run
from toolkit.errors import ToolkitError
from toolkit.runs.checkpoint import read_tensors
from toolkit.tune.soup import soup_runs

# A study whose two settings (5 epochs each) score alike alone and better as a soup.
SOUP_STUDY = """
[study]
name = "{name}"
trials = 3
pruner = "none"
sampler = "random"
seed = 0
keep_checkpoints = 3

[fixed]
head_epochs = 5

[[pipelines]]
encoder = "pixels"
loss = "softmax-ce"
head = "linear-probe"
default_space = false
space = {{ head_lr = {{ type = "choice", choices = [0.05, 0.3] }} }}
"""


def write_soup_study(folder: Path, name: str = "soup") -> Path:
    """A quick study file whose greedy soup beats its best trial on digits; its path."""
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(SOUP_STUDY.format(name=name)))
    return path


@dataclass(frozen=True)
class Runs:
    root: Path  # the runs folder
    digits: Path  # the competition folder
    start: Path  # 5 epochs at head_lr 0.01: a soup with `strong` beats it
    strong: Path  # 5 epochs at head_lr 0.1
    bad: Path  # 1 step at head_lr 10: its large weights pull any average down
    other_head: Path  # a linear probe without standardisation: another architecture
    other_seed: Path  # seed 1: another validation split


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    from toolkit.data import load_competition, make_example

    base = tmp_path_factory.mktemp("soup")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLKIT_CACHE", str(base / "cache"))
        mp.setenv("TOOLKIT_RUNS", str(base / "runs"))
        digits = make_example("digits", base / "digits")
        comp = load_competition(digits)
        yield Runs(
            base / "runs",
            digits,
            start=tiny_run(comp),
            strong=tiny_run(comp, head_lr=0.1),
            bad=tiny_run(comp, head_iterations=1, head_lr=10.0),
            other_head=tiny_run(comp, head_params={"standardize": False}),
            other_seed=tiny_run(comp, seed=1),
        )


@pytest.fixture(autouse=True)
def env(runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_CACHE", str(runs.root.parent / "cache"))
    monkeypatch.setenv("TOOLKIT_RUNS", str(runs.root))
    monkeypatch.setenv("TOOLKIT_SUBMISSIONS", str(tmp_path / "subs"))
    monkeypatch.setenv("TOOLKIT_DEBUG", "0")


def _head(path: Path) -> dict[str, torch.Tensor]:
    tensors = read_tensors(path / "checkpoint.safetensors")
    return {k.removeprefix("head."): v for k, v in tensors.items() if k.startswith("head.")}


def _val_acc(path: Path) -> float:
    return float(json.loads((path / "run.json").read_text())["metrics"]["val_acc"])


def test_the_soup_averages_what_helps_and_skips_what_lowers_validation(runs: Runs) -> None:
    result = soup_runs([runs.start, runs.bad, runs.strong, runs.other_head], device="cpu")
    ids = [p.name for p in (runs.start, runs.bad, runs.strong)]
    assert result.candidates == ids and result.kept == [ids[0], ids[2]]
    start, with_bad, with_strong = result.scores
    assert start == pytest.approx(_val_acc(runs.start), abs=1e-4)  # the start, as trained
    assert with_bad < start < with_strong  # the bad run lowers it: not added
    assert result.left_out == [
        {"run_id": runs.other_head.name, "reason": result.left_out[0]["reason"]}
    ]
    assert "head_params" in result.left_out[0]["reason"]

    soup, a, b = _head(result.path), _head(runs.start), _head(runs.strong)
    for key in ("fc.weight", "fc.bias"):  # not BatchNorm: the plain mean of the two kept
        assert torch.allclose(soup[key], (a[key] + b[key]) / 2, atol=1e-6)
    assert not torch.allclose(soup["fc.weight"], (a["fc.weight"] + _head(runs.bad)["fc.weight"]))

    record = json.loads((result.path / "run.json").read_text())
    assert record["status"] == "completed" and record["soup_of"] == result.kept
    assert record["soup"]["candidates"] == ids and record["soup"]["kept"] == result.kept
    assert record["soup"]["scores"] == pytest.approx(result.scores, abs=1e-6)
    start_record = json.loads((runs.start / "run.json").read_text())
    assert record["config"] == start_record["config"]
    assert record["data_fingerprint"] == start_record["data_fingerprint"]
    metrics = record["metrics"]
    assert metrics["metric"] == "accuracy"
    assert metrics["val_score"] == metrics["val_acc"] == pytest.approx(with_strong, abs=1e-4)
    val = np.load(result.path / "val_probs.npy")
    labels = np.load(result.path / "val_labels.npy")
    assert (val.argmax(1) == labels).mean() == pytest.approx(with_strong)
    assert np.load(result.path / "test_probs.npy").shape[1] == 10


def test_no_soup_is_written_when_none_beats_the_first_run(runs: Runs) -> None:
    before = sorted(runs.root.iterdir())
    with pytest.raises(ToolkitError, match=r"no soup beats the best run .*submit the best run"):
        soup_runs([runs.strong, runs.bad], device="cpu")
    assert sorted(runs.root.iterdir()) == before


def test_runs_validated_on_other_images_are_refused(runs: Runs) -> None:
    before = sorted(runs.root.iterdir())
    with pytest.raises(ToolkitError, match="validated on other images"):
        soup_runs([runs.start, runs.strong, runs.other_seed], device="cpu")
    assert sorted(runs.root.iterdir()) == before


def test_only_another_architecture_leaves_nothing_to_soup(runs: Runs) -> None:
    with pytest.raises(ToolkitError, match=r"no other run has the architecture .*head_params"):
        soup_runs([runs.start, runs.other_head], device="cpu")


def test_tk_submit_and_tk_predict_take_the_soup(
    runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = soup_runs([runs.start, runs.strong], device="cpu")
    code, out, err = tk(capsys, "submit", "--run", result.run_id, "--json")
    assert code == 0, err
    provenance = json.loads(out)
    assert provenance["runs"][0]["run_id"] == result.run_id
    assert provenance["runs"][0]["soup_of"] == result.kept
    assert provenance["validation_score"] == pytest.approx(result.scores[-1], abs=1e-6)
    csv = tmp_path / "predicted.csv"
    code, out, err = tk(
        capsys, "predict", result.run_id, str(runs.digits / "test"), "--out", str(csv), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["images"] == len(csv.read_text().splitlines()) - 1 > 0


def test_tk_soup_on_a_study(
    runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.tune import load_spec, tune

    monkeypatch.setenv("TOOLKIT_STUDIES", str(tmp_path / "studies"))
    monkeypatch.setenv("TOOLKIT_RUNS", str(tmp_path / "runs"))
    tune(load_spec(write_soup_study(tmp_path)), str(runs.digits), quiet=True)
    code, out, err = tk(capsys, "soup", "soup", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert len(data["kept"]) >= 2
    assert max(data["scores"]) > data["scores"][0]  # the soup beats the best trial
    assert Path(data["path"], "checkpoint.safetensors").is_file()
    assert data["metrics"]["val_score"] == pytest.approx(max(data["scores"]), abs=1e-4)
    code, out, err = tk(capsys, "soup", "soup", "--top-k", "2")
    assert code == 0, err
    assert "kept" in out and "Soup of study soup" in out
    code, _, err = tk(capsys, "soup", "soup", "--top-k", "1")
    assert code == 2 and "--top-k" in err
