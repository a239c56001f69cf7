"""A run started from a local timm checkpoint is self-contained: once the file has moved, the
run folder still submits (its own checkpoint.safetensors holds every weight), and the
checkpoint is never read again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tests._cli import run_main as tk

TINY = "test_resnet"  # a timm test model: 0.4M parameters, nothing downloaded


@pytest.fixture
def weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local checkpoint of timm's test_resnet (random weights, saved with safetensors)."""
    import timm

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(3)
    model = timm.create_model(TINY, pretrained=False, num_classes=0)
    path = tmp_path / "elsewhere" / "resnet.safetensors"
    path.parent.mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def test_a_run_from_a_local_checkpoint_submits_after_the_file_moved(
    weights: Path,
    tmp_path: Path,
    runs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from toolkit_plugins.encoders import timm_encoder

    from toolkit.data import make_example

    monkeypatch.setenv("TOOLKIT_SUBMISSIONS", str(tmp_path / "subs"))
    monkeypatch.setenv("TOOLKIT_DEBUG", "0")
    folder = make_example("photos", tmp_path / "photos", n_images=40)
    settings = [f"encoder.checkpoint={weights}", "data.image_size=32", "head_epochs=2"]
    code, _, err = tk(
        capsys,
        "train",
        str(folder),
        *("--encoder", f"timm:{TINY}", "--loss", "softmax-ce", "--head", "linear-probe"),
        *(arg for s in settings for arg in ("--set", s)),
        "--quiet",
    )
    assert code == 0, err
    (run,) = list(runs_dir.iterdir())
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "completed"
    assert record["config"]["encoder_params"]["checkpoint"] == str(weights)

    weights.rename(tmp_path / "moved.safetensors")  # the file is gone from where the run says

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the run's own checkpoint holds every weight")

    monkeypatch.setattr(timm_encoder, "load_checkpoint", never)
    code, _, err = tk(capsys, "submit", "--run", run.name, "--quiet")
    assert code == 0, err
    (csv,) = (tmp_path / "subs").rglob("*.csv")
    assert len(csv.read_text().splitlines()) == 1 + len(
        (folder / "sample_submission.csv").read_text().splitlines()[1:]
    )
