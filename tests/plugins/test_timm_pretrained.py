"""timm:<model> with pretrained=True: weights from a local hub cache only, never the network.

Each test makes its own "pretrained" weights (a randomised tiny timm model) and lays them out the
way huggingface_hub caches a download, in a temporary folder that HF_HUB_CACHE points at.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from tests._hub import COMMIT, REPO, TINY
from tests._hub import pretend_downloaded as _pretend_downloaded
from toolkit.errors import ToolkitError
from toolkit.registry import encoders


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty hub cache under tmp_path, HF_HUB_OFFLINE=1, and no socket may connect."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a network connection was attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield cache


class Trainer:
    """A pickled Python object beside the weights: what a training script's checkpoint holds."""

    lr = 0.1


def _build(channels: int = 3, name: str = TINY, **params: Any) -> torch.nn.Module:
    return encoders.create(f"timm:{name}", in_channels=channels, image_size=64, **params)


def test_pretrained_weights_come_from_the_hub_cache(offline: Path) -> None:
    saved = _pretend_downloaded(offline)
    model = _build(pretrained=True)
    own = model.state_dict()
    assert set(own) == {k for k in saved if not k.startswith("fc.")}  # classifier dropped
    for key, value in own.items():
        assert torch.equal(value, saved[key]), key
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, model.out_dim)
    import huggingface_hub.constants

    assert huggingface_hub.constants.HF_HUB_OFFLINE is True
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_data_config_of_loaded_weights(offline: Path) -> None:
    _pretend_downloaded(offline)
    config = _build(pretrained=True).data_config
    assert config == {
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "input_size": 160,
        "source": f"hf-cache:{REPO}",
    }
    assert _build().data_config is None  # random weights: the core fits its own statistics


def test_grayscale_adapts_the_first_conv(offline: Path) -> None:
    saved = _pretend_downloaded(offline)
    model = _build(channels=1, pretrained=True)
    own = model.state_dict()
    stem = own["conv1.0.weight"]
    assert stem.shape == (*saved["conv1.0.weight"].shape[:1], 1, *stem.shape[2:])
    assert torch.allclose(stem, saved["conv1.0.weight"].sum(dim=1, keepdim=True))
    for key, value in own.items():
        if key != "conv1.0.weight":
            assert torch.equal(value, saved[key]), key
    assert model.data_config is not None
    assert model.data_config["mean"] == (0.5,) and model.data_config["std"] == (0.5,)
    assert model(torch.randn(2, 1, 64, 64)).shape == (2, model.out_dim)


def test_vit_weights_adapt_to_the_image_size(offline: Path) -> None:
    saved = _pretend_downloaded(offline, "timm/test_vit.r160_in1k", "test_vit")
    model = _build(name="test_vit", pretrained=True)  # trained at 160, used at 64
    assert torch.equal(
        model.state_dict()["blocks.0.attn.qkv.weight"], saved["blocks.0.attn.qkv.weight"]
    )
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, model.out_dim)


def test_url_only_weights_come_from_the_torch_hub_cache(tmp_path: Path) -> None:
    import timm

    name = "legacy_seresnet18"  # timm knows its weights only by URL, cached by torch.hub
    torch.manual_seed(4)
    saved = timm.create_model(name, num_classes=0).state_dict()
    folder = tmp_path / "torch-home" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    file = folder / Path(timm.models.get_pretrained_cfg(name).url).name
    torch.save(saved, file)  # a .pth, as the URL serves it
    model = _build(name=name, pretrained=True)
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    assert model.data_config is not None and model.data_config["source"] == f"file:{file}"


def test_missing_weights_say_where_they_were_looked_for(offline: Path) -> None:
    with pytest.raises(ToolkitError) as info:
        _build(pretrained=True)
    message = str(info.value)
    assert "\n" not in message
    assert f"'{TINY}'" in message and REPO in message
    assert str(offline / "models--timm--test_resnet.r160_in1k") in message
    assert "pretrained=True" in message and "encoder.checkpoint" in message


def test_a_model_without_pretrained_weights_is_one_line() -> None:
    import timm

    trained = {n.split(".")[0] for n in timm.list_pretrained()}
    untrained = next(n for n in timm.list_models() if n not in trained)
    with pytest.raises(ToolkitError, match=f"no pretrained weights for '{untrained}'") as info:
        _build(name=untrained, pretrained=True)
    assert "\n" not in str(info.value)
    with pytest.raises(ToolkitError, match=r"resnet18\.a1_in1k"):
        _build(name="resnet18.no_such_tag", pretrained=True)


def test_a_checkpoint_wins_over_pretrained(offline: Path, tmp_path: Path) -> None:
    torch.manual_seed(5)
    source = _build()
    file = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(file))
    model = _build(pretrained=True, checkpoint=str(file))  # the hub cache is empty: not read
    assert all(torch.equal(model.state_dict()[k], v) for k, v in source.state_dict().items())
    assert model.data_config is not None and model.data_config["source"] == f"file:{file}"


def test_a_cached_bin_file_loads_when_there_is_no_safetensors(offline: Path) -> None:
    saved = _pretend_downloaded(offline)
    snapshot = offline / "models--timm--test_resnet.r160_in1k" / "snapshots" / COMMIT
    (snapshot / "model.safetensors").unlink()
    torch.save(saved, snapshot / "pytorch_model.bin")
    model = _build(pretrained=True)
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())


def test_a_pickled_object_is_refused_in_one_line(
    offline: Path, tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    file = tmp_path / "trainer.pth"
    torch.save({"state_dict": _build().state_dict(), "trainer": Trainer()}, file)
    with pytest.raises(ToolkitError, match="Trainer") as info:
        _build(checkpoint=str(file))
    message = str(info.value)
    assert "\n" not in message and "weights_only" not in message and str(file) in message
    # The same file sitting in the hub cache is refused the same way.
    snapshot = offline / "models--timm--test_resnet.r160_in1k" / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "pytorch_model.bin").write_bytes(file.read_bytes())
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text(COMMIT)
    with pytest.raises(ToolkitError, match="Trainer") as info:
        _build(pretrained=True)
    assert "\n" not in str(info.value) and "weights_only" not in str(info.value)
    # Junk is "cannot read", again without the advice.
    (snapshot / "pytorch_model.bin").write_bytes(b"not a pickle")
    with pytest.raises(ToolkitError, match="cannot read checkpoint") as info:
        _build(pretrained=True)
    assert "weights_only" not in str(info.value)
    with pytest.raises(ToolkitError, match="cannot read checkpoint") as info:
        _build(checkpoint=str(snapshot / "pytorch_model.bin"))
    assert "weights_only" not in str(info.value)
    assert not [w for w in recwarn if "weights_only" in str(w.message)]


def test_preferred_image_size() -> None:
    timm_factory = encoders.get("timm:resnet18")
    size_of = timm_factory.preferred_image_size
    assert size_of("resnet18", pretrained=True) == 224
    assert size_of("resnet18") is None
    assert size_of("resnet10t", checkpoint="weights.safetensors") == 176
    assert size_of(pretrained=True) == 224  # "timm" alone is resnet18
    with pytest.raises(ToolkitError, match="unknown timm model"):
        size_of("resnet19", pretrained=True)
    assert timm_factory.weight_source_params == ("checkpoint", "pretrained")
