"""A run's parts: splits on the device, the model from the registries, init_from weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from toolkit.data import Competition
from toolkit.errors import ToolkitError
from toolkit.runs import checkpoint as ckpt
from toolkit.runs import create_run
from toolkit.train.config import TrainConfig
from toolkit.train.parts import build_model, initial_encoder_weights, load_encoder, load_splits

CPU = torch.device("cpu")


def test_splits_and_model_follow_the_config(digits: Competition) -> None:
    cfg = TrainConfig(encoder="pixels", loss="bce", head="linear-probe", classes=("0", "1"))
    splits = load_splits(cfg, digits, CPU)
    assert [str(c) for c in splits.classes] == ["0", "1"] and splits.num_classes == 2
    assert splits.x_train.dtype == torch.uint8 and set(splits.y_train.tolist()) == {0, 1}
    model = build_model(cfg, splits, CPU)
    assert model.logits_dim == 1  # bce: one logit
    assert not model.kinds.embedding_loss and not model.kinds.trains_encoder


def test_an_embedding_loss_gets_the_head_stage_loss(digits: Competition) -> None:
    cfg = TrainConfig(encoder="pixels", loss="triplet", head="linear-probe", label_smoothing=0.1)
    model = build_model(cfg, load_splits(cfg, digits, CPU), CPU)
    assert model.kinds.embedding_loss and model.kinds.balanced_batches
    assert model.head_loss_name == "softmax-ce"
    assert model.head_loss_params == {"label_smoothing": 0.1}


def test_init_from_reads_a_run_or_a_safetensors_file(tmp_path: Path) -> None:
    encoder = nn.Linear(4, 3)
    run = create_run("x", {"status": "completed"}, tmp_path)
    ckpt.save(run, ckpt.state_tensors(encoder, nn.Linear(3, 2)), {"encoder": "x"})
    for source in (str(run.path), str(run.file("checkpoint.safetensors"))):
        state = initial_encoder_weights(TrainConfig(init_from=source))
        assert state is not None
        fresh = nn.Linear(4, 3)
        load_encoder(fresh, state, source)
        assert torch.equal(fresh.weight, encoder.weight)
    assert initial_encoder_weights(TrainConfig()) is None
    with pytest.raises(ToolkitError, match="does not match this encoder"):
        load_encoder(nn.Linear(5, 3), state, "x")


@pytest.mark.parametrize(
    ("name", "needle"),
    [("missing.safetensors", "does not exist"), ("weights.pt", "not a .safetensors file")],
)
def test_a_bad_init_from_is_a_user_error(tmp_path: Path, name: str, needle: str) -> None:
    (tmp_path / "weights.pt").write_bytes(b"not tensors")
    with pytest.raises(ToolkitError, match=needle):
        initial_encoder_weights(TrainConfig(init_from=str(tmp_path / name)))


def test_an_unknown_init_from_run_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLKIT_RUNS", str(tmp_path))
    with pytest.raises(ToolkitError, match="unknown run 'nosuch'"):
        initial_encoder_weights(TrainConfig(init_from="nosuch"))
