"""The pre-flight before a run folder is made: settings and images the model cannot take are
one-line errors, and a model that can take them leaves the check as it came."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from toolkit.data import Competition
from toolkit.errors import ToolkitError
from toolkit.train.config import TrainConfig
from toolkit.train.model import preflight
from toolkit.train.parts import build_model, load_splits

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # timm models from scratch: nothing downloaded


def test_a_vit_on_8x8_digits_is_refused_with_what_to_change(digits: Competition) -> None:
    cfg = TrainConfig(encoder="timm:test_vit", loss="softmax-ce", head="linear-probe")
    splits = load_splits(cfg, digits, CPU)
    with pytest.raises(ToolkitError) as err:
        preflight(build_model(cfg, splits, CPU), splits, cfg)
    message = str(err.value)
    assert "encoder timm:test_vit cannot take this competition's 1x8x8 images" in message
    assert "patch size" in message  # timm's own reason, on the same line
    assert "--set data.image_size=N" in message and "\n" not in message


def test_a_model_that_fits_keeps_its_modes_weights_and_random_state(
    digits: Competition,
) -> None:
    cfg = TrainConfig(encoder="fastnet", loss="softmax-ce", head="finetune")
    splits = load_splits(cfg, digits, CPU)
    model = build_model(cfg, splits, CPU)
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}  # BatchNorm stats too
    rng = torch.get_rng_state()
    preflight(model, splits, cfg)
    assert model.encoder.training and model.head.training
    assert torch.equal(torch.get_rng_state(), rng)
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_an_encoder_whose_features_break_out_dim_is_named(digits: Competition) -> None:
    cfg = TrainConfig(encoder="pixels", loss="softmax-ce", head="linear-probe")
    splits = load_splits(cfg, digits, CPU)
    model = build_model(cfg, splits, CPU)
    model.encoder.out_dim = 7  # type: ignore[assignment]
    with pytest.raises(ToolkitError, match=r"returned features of shape \(2, 64\).*out_dim=7"):
        preflight(model, splits, cfg)


def test_embedding_stages_need_weights_and_balanced_batches_of_four(
    digits: Competition,
) -> None:
    cfg = TrainConfig(encoder="pixels", loss="triplet", head="linear-probe")
    splits = load_splits(cfg, digits, CPU)
    with pytest.raises(ToolkitError, match="encoder pixels has no weights for the embedding"):
        preflight(build_model(cfg, splits, CPU), splits, cfg)
    small = dataclasses.replace(cfg, encoder="convnet4", encoder_params={"hidden": 64})
    model = build_model(small, splits, CPU)
    with pytest.raises(ToolkitError, match="batch_size=3 is too small"):
        preflight(model, splits, dataclasses.replace(small, batch_size=3))
    preflight(model, splits, dataclasses.replace(small, batch_size=4))
