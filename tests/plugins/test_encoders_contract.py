"""The encoder contract, checked for every registered encoder (a new one is tested at once).

``factory(in_channels, image_size, **params) -> nn.Module`` with ``out_dim: int``;
``forward((B, C, H, W) float32, maybe channels_last) -> (B, out_dim)``.
"""

from __future__ import annotations

import pytest
import torch
from conftest import CHEAP, CREATE_AS, TRAIN_KEYS, assert_grads_reach, space_samples

from toolkit.registry import encoders

NAMES = encoders.names()
OWN = {"pixels", "convnet4", "fastnet"}  # built-in encoders that must take every size
# Combinations a third-party architecture truly cannot do: (name, size) -> reason.
# Add an entry here only when the architecture cannot work at that size at all.
CANNOT: dict[tuple[str, int], str] = {}


def _build(name: str, channels: int, size: int, **params: object) -> torch.nn.Module:
    torch.manual_seed(0)
    params = {**CHEAP.get(name, {}), **params}
    full_name = CREATE_AS.get(name, name)
    return encoders.create(full_name, in_channels=channels, image_size=size, **params)


def test_builtin_encoders_are_registered() -> None:
    assert {"pixels", "convnet4", "fastnet", "timm"} <= set(NAMES)


@pytest.mark.parametrize("size", [8, 16, 32])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_gradients(name: str, channels: int, size: int) -> None:
    if (name, size) in CANNOT and name not in OWN:
        pytest.skip(CANNOT[(name, size)])
    model = _build(name, channels, size)
    assert isinstance(model.out_dim, int) and model.out_dim > 0
    x = torch.randn(3, channels, size, size, requires_grad=True)  # (B, C, H, W)
    out = model(x)
    assert out.shape == (3, model.out_dim)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    (out * torch.randn_like(out)).sum().backward()  # a random projection: no symmetric zeros
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert_grads_reach(model, nonzero=name in OWN)


@pytest.mark.parametrize("name", NAMES)
def test_channels_last_and_eval_batch_of_one(name: str) -> None:
    model = _build(name, 3, 16).eval()
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        plain = model(x)
        last = model(x.contiguous(memory_format=torch.channels_last))
        single = model(x[:1])
    assert torch.allclose(plain, last, atol=1e-4, rtol=1e-4)
    assert torch.allclose(single, plain[:1], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_info_and_search_space(name: str) -> None:
    info = encoders.info(name)
    assert info.status == "ok", info.error
    assert info.summary
    params = {p.name: p for p in info.params}
    for p in params.values():
        assert not p.required, f"{name}: parameter {p.name} needs a default"
        assert p.annotation, f"{name}: parameter {p.name} needs a type hint"
    for key, dim in info.space.items():
        dim.validate(key)
        assert key in params or key in TRAIN_KEYS, f"{name}: space key {key} is not a parameter"


@pytest.mark.parametrize("name", NAMES)
def test_every_search_space_value_builds(name: str) -> None:
    for key, dim in encoders.info(name).space.items():
        if key.startswith("train."):
            continue
        for value in space_samples(dim):
            model = _build(name, 3, 16, **{key: value})
            assert model(torch.randn(2, 3, 16, 16)).shape == (2, model.out_dim)
