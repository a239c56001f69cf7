"""Checkpoints: safetensors weights plus the JSON that describes them; never a pickle."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from toolkit.errors import ToolkitError, WriteError
from toolkit.runs import checkpoint as ckpt
from toolkit.runs import create_run


def _meta() -> dict:
    config = {
        "encoder": "pixels",
        "encoder_params": {},
        "head": "linear-probe",
        "head_params": {},
        "tta": True,
    }
    return ckpt.describe(
        config,
        classes=["cat", "dog"],
        in_channels=3,
        image_size=8,
        in_features=192,
        logits_dim=2,
        head_loss="softmax-ce",
        head_loss_params={"label_smoothing": 0.1},
        normalizer={"mean": [0.5] * 3, "std": [0.25] * 3},
        fingerprint="abc",
    )


def test_describe_holds_what_rebuilding_the_model_needs() -> None:
    meta = _meta()
    assert meta["num_classes"] == 2 and meta["classes"] == ["cat", "dog"]
    assert meta["encoder"] == "pixels" and meta["head"] == "linear-probe" and meta["tta"] is True
    assert meta["normalizer"]["std"] == [0.25] * 3 and meta["data_fingerprint"] == "abc"


def test_save_and_read_back(tmp_path: Path) -> None:
    run = create_run("x", {"status": "running"}, tmp_path)
    encoder, head = nn.Linear(4, 3), nn.Linear(3, 2)
    digest = ckpt.save(run, ckpt.state_tensors(encoder, head), _meta())
    meta = ckpt.read_meta(run)
    assert meta["sha256"] == digest == ckpt.file_sha256(run.file("checkpoint.safetensors"))
    fresh = nn.Linear(4, 3)
    tensors = ckpt.read_tensors(run.file("checkpoint.safetensors"))
    ckpt.load_into(fresh, tensors, "encoder.", run.id)
    assert torch.equal(fresh.weight, encoder.weight)
    assert set(ckpt.encoder_weights(str(run.path))) == {"weight", "bias"}


def test_weights_that_do_not_fit_are_a_user_error(tmp_path: Path) -> None:
    tensors = ckpt.state_tensors(nn.Linear(4, 3), None)
    with pytest.raises(ToolkitError, match="does not fit"):
        ckpt.load_into(nn.Linear(5, 3), tensors, "encoder.", "r1")


def test_a_pickle_is_refused_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    path.write_bytes(pickle.dumps({"weight": [1.0]}))
    with pytest.raises(ToolkitError, match="never unpickles"):
        ckpt.read_tensors(path)


def test_a_run_without_checkpoint_says_so(tmp_path: Path) -> None:
    run = create_run("x", {"status": "running"}, tmp_path)
    with pytest.raises(ToolkitError, match="no usable checkpoint"):
        ckpt.read_meta(run)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[]", "holds [], not a checkpoint description"),
        ('{"format": "other"}', "not a toolkit-checkpoint/1"),
        ("{not json", "not JSON"),
        ("missing encoder", "'encoder' is missing"),
        ("string image_size", "'image_size' is \"8\""),
    ],
)
def test_a_damaged_description_is_one_line_naming_it(
    tmp_path: Path, text: str, problem: str
) -> None:
    run = create_run("x", {"status": "running"}, tmp_path)
    ckpt.save(run, ckpt.state_tensors(nn.Linear(4, 3), nn.Linear(3, 2)), _meta())
    meta = ckpt.read_meta(run)
    if text == "missing encoder":
        text = json.dumps({k: v for k, v in meta.items() if k != "encoder"})
    elif text == "string image_size":
        text = json.dumps(meta | {"image_size": "8"})
    run.file("checkpoint.json").write_text(text)
    with pytest.raises(ToolkitError, match="damaged") as err:
        ckpt.read_meta(run)
    assert problem in str(err.value) and "checkpoint.json" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_checkpoint_over_the_file_size_limit_names_the_file(tmp_path: Path) -> None:
    """safetensors reports a failed write as its own error ("os error 27"), never an OSError."""
    from safetensors import SafetensorError

    run = create_run("x", {"status": "running"}, tmp_path)

    def failing(tensors: object, path: str) -> None:
        Path(path).write_bytes(b"half")
        raise SafetensorError("Error while serializing: I/O error: File too large (os error 27)")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("safetensors.torch.save_file", failing)
        with pytest.raises(WriteError, match=r"checkpoint\.safetensors: file too large"):
            ckpt.save(run, ckpt.state_tensors(nn.Linear(4, 3), None), _meta())
    assert sorted(p.name for p in run.path.iterdir()) == ["run.json"]  # no temporary file
