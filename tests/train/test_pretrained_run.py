"""A run that fine-tunes pretrained timm weights from the local hub cache (never the network):
the image size, the normalisation and the encoder's learning rate follow the weights, and the
run folder predicts without the cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests._hub import TINY, pretend_downloaded
from toolkit.train import TrainConfig, train
from toolkit.train.task import image_request, load_for


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    pretend_downloaded(cache)
    return cache


def test_image_request_follows_the_weights_unless_the_user_sets_a_size() -> None:
    pretrained = TrainConfig(encoder=f"timm:{TINY}", encoder_params={"pretrained": True})
    assert image_request(pretrained) == (160, "crop")  # test_resnet's weights were made at 160
    assert image_request(TrainConfig(encoder=f"timm:{TINY}")) == (0, "crop")
    assert image_request(TrainConfig()) == (0, "crop")
    sized = TrainConfig(encoder=f"timm:{TINY}", encoder_params={"pretrained": True}, image_size=48)
    assert image_request(sized) == (48, "crop")


def test_a_pretrained_run_uses_the_weights_statistics_and_a_lower_encoder_lr(
    hub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runs_dir: Path
) -> None:
    from toolkit.data import make_example
    from toolkit.submit import make_submission
    from toolkit.train import loop

    scales: list[list[float]] = []
    real_optimizer = loop.make_optimizer

    def spy(cfg: Any, stage: Any) -> Any:
        scales.append([scale for _, scale in stage.groups])
        return real_optimizer(cfg, stage)

    monkeypatch.setattr(loop, "make_optimizer", spy)
    folder = make_example("photos", tmp_path / "photos", n_images=40)
    config = TrainConfig(
        encoder=f"timm:{TINY}",
        encoder_params={"pretrained": True},
        epochs=1,
        batch_size=8,
        device="cpu",
    )
    comp = load_for(config, folder)
    assert comp.image_size == 160
    result = train(config, comp, quiet=True)
    assert result.status == "completed" and result.path is not None
    assert scales == [[0.1, 1.0]]  # encoder at a tenth of the new head's learning rate
    meta = json.loads((result.path / "checkpoint.json").read_text())
    assert meta["image_size"] == 160
    import timm

    weights = timm.models.get_pretrained_cfg(TINY)  # the statistics the weights were made with
    assert np.allclose(meta["normalizer"]["mean"], weights.mean, atol=1e-6)
    assert np.allclose(meta["normalizer"]["std"], weights.std, atol=1e-6)
    assert not np.allclose(meta["normalizer"]["mean"], comp.x_train.mean() / 255, atol=1e-3)

    shutil.rmtree(hub)  # the run folder holds every weight: no cache needed to submit
    monkeypatch.setenv("TOOLKIT_SUBMISSIONS", str(tmp_path / "subs"))
    made = make_submission(str(result.path))
    assert made.csv_path.is_file()
