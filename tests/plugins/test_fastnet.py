"""fastnet: airbench94's layout, any channel count and any size >= 8, width multiplier."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.registry import encoders


def _convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("size", [8, 12, 28, 64])
def test_any_channels_and_size(channels: int, size: int) -> None:
    model = encoders.create("fastnet", in_channels=channels, image_size=size)
    out = model(torch.randn(2, channels, size, size))
    assert out.shape == (2, model.out_dim)


def test_layout_follows_airbench() -> None:
    model = encoders.create("fastnet", in_channels=3, image_size=32, width=1.0)
    convs = _convs(model)
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [
        (3, 24, 2),  # stem: 2x2, 2 * 3 * 2 * 2 filters
        (24, 64, 3),
        (64, 64, 3),
        (64, 256, 3),
        (256, 256, 3),
        (256, 256, 3),
        (256, 256, 3),
    ]
    assert model.out_dim == 256
    assert not any(isinstance(m, nn.Linear) for m in model.modules())  # no big FC layer


def test_width_multiplier_scales_groups() -> None:
    half = encoders.create("fastnet", in_channels=3, image_size=32, width=0.5)
    assert [c.out_channels for c in _convs(half)[1::2]] == [32, 128, 128]
    assert half.out_dim == 128
    with pytest.raises(ToolkitError, match="width"):
        encoders.create("fastnet", in_channels=3, image_size=32, width=0.0)


def test_pools_stop_before_batchnorm_sees_1x1() -> None:
    # 8x8 input: stem -> 7x7, pool -> 3x3, then no more pooling; so a batch of one trains.
    model = encoders.create("fastnet", in_channels=1, image_size=8).train()
    seen: list[tuple[int, int]] = []
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.register_forward_hook(lambda _m, inp, _out: seen.append(tuple(inp[0].shape[-2:])))
    model(torch.randn(1, 1, 8, 8)).sum().backward()
    assert min(min(s) for s in seen) >= 2


def test_groups_start_as_partial_identity() -> None:
    model = encoders.create("fastnet", in_channels=3, image_size=32, width=0.5)
    conv = _convs(model)[2]  # the second conv of group 1: 32 -> 32
    x = torch.randn(1, 32, 5, 5)
    assert torch.allclose(conv(x), x, atol=1e-6)
