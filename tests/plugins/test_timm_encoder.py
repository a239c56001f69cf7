"""timm:<model>: unknown names, no downloads, local checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from toolkit.errors import ToolkitError
from toolkit.registry import encoders

TINY = "test_resnet"  # a timm test model: 0.4M parameters


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No hub access: building from scratch or a local file never needs the network."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _build(channels: int = 3, **params: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    return encoders.create(f"timm:{TINY}", in_channels=channels, image_size=32, **params)


def test_out_dim_is_num_features() -> None:
    model = _build()
    assert model.out_dim == model.num_features
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, model.out_dim)


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(ToolkitError, match=r"unknown timm model 'resnet19'.*resnet18"):
        encoders.create("timm:resnet19", in_channels=3, image_size=32)


def test_never_asks_for_pretrained_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    import timm

    calls: list[dict[str, Any]] = []
    real = timm.create_model

    def spy(name: str, **kwargs: Any) -> torch.nn.Module:
        calls.append(kwargs)
        return real(name, **kwargs)

    monkeypatch.setattr(timm, "create_model", spy)
    _build(channels=1)
    assert calls and all(c["pretrained"] is False for c in calls)
    assert all("checkpoint_path" not in c for c in calls)


def test_vit_gets_the_image_size() -> None:
    model = encoders.create("timm:test_vit", in_channels=3, image_size=32)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, model.out_dim)


def test_loads_a_local_safetensors_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = _build()
    for p in source.parameters():
        p.data.normal_()
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    state["fc.weight"] = torch.randn(10, source.num_features)  # a classifier: must be ignored
    path = tmp_path / "encoder.safetensors"
    save_file(state, str(path))
    loaded = _build(checkpoint=str(path))
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_loads_a_wrapped_torch_checkpoint(tmp_path: Path) -> None:
    source = _build()
    with torch.no_grad():
        for p in source.parameters():
            p.add_(1.0)
    path = tmp_path / "encoder.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    loaded = _build(checkpoint=str(path))
    assert all(
        torch.equal(a, b) for a, b in zip(loaded.parameters(), source.parameters(), strict=True)
    )


def test_rgb_checkpoint_adapts_to_grayscale(tmp_path: Path) -> None:
    path = tmp_path / "rgb.safetensors"
    save_file({k: v.contiguous() for k, v in _build(3).state_dict().items()}, str(path))
    gray = _build(1, checkpoint=str(path))
    assert gray(torch.randn(2, 1, 32, 32)).shape == (2, gray.out_dim)


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(ToolkitError, match="does not exist"):
        _build(checkpoint=str(tmp_path / "missing.safetensors"))
    other = tmp_path / "other.safetensors"
    save_file({"something.else": torch.zeros(3)}, str(other))
    with pytest.raises(ToolkitError, match="no weights for this model"):
        _build(checkpoint=str(other))
    wrong = tmp_path / "wrong.safetensors"
    save_file({"conv1.0.weight": torch.zeros(5, 3, 3, 3)}, str(wrong))
    with pytest.raises(ToolkitError, match="does not fit"):
        _build(checkpoint=str(wrong))
