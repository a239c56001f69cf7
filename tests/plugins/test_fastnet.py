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


def test_depth_adds_convs_and_a_residual_per_group_and_keeps_depth_2_keys() -> None:
    two = encoders.create("fastnet", in_channels=3, image_size=32, width=0.5)
    three = encoders.create("fastnet", in_channels=3, image_size=32, width=0.5, depth=3)
    assert len(_convs(three)) == len(_convs(two)) + 3  # one more conv in each of 3 groups
    assert set(two.state_dict()) < set(three.state_dict())
    assert not any("extra" in key for key in two.state_dict())  # older checkpoints still load
    x = torch.randn(4, 3, 32, 32)
    assert three(x).shape == (4, three.out_dim)
    # The residual: a group whose extra convs output zeros returns its pooled input map.
    group = three.groups[0]
    with torch.no_grad():
        for block in group.extra:
            block[1].weight.zero_()
            block[1].bias.fill_(-10.0)  # GELU(-10) ~ 0
    group.eval()
    stem = three.stem(x)
    inner = group.act(group.norm1(group.pool(group.conv1(stem))))
    assert torch.allclose(group(stem), inner, atol=1e-4)
    for bad in (1, 9):
        with pytest.raises(ToolkitError, match="depth"):
            encoders.create("fastnet", in_channels=3, image_size=32, depth=bad)


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


# -- whiten: airbench's frozen patch-whitening stem -------------------------------------------


def _correlated_images(n: int = 64, channels: int = 3, size: int = 12) -> torch.Tensor:
    """Images whose neighbouring pixels and channels correlate (as natural images do)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, channels, size + 2, size + 2, generator=gen)
    x = nn.functional.avg_pool2d(x, 3, stride=1)  # (n, C, size, size): smooth in space
    x = x + 0.3 * torch.randn(x.shape, generator=gen)  # no direction without variance
    mix = torch.eye(channels) + 0.5  # and correlated across channels
    return torch.einsum("dc,nchw->ndhw", mix, x)


def _patch_outputs(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:  # (P, filters)
    with torch.no_grad():
        return nn.functional.conv2d(x, conv.weight).permute(0, 2, 3, 1).flatten(0, 2)


def test_whitened_stem_has_identity_covariance_on_its_data() -> None:
    model = encoders.create("fastnet", in_channels=3, image_size=12, whiten=True)
    conv = model.stem[0]
    assert not conv.weight.requires_grad and conv.bias.requires_grad
    x = _correlated_images()
    model.init_from_data(x)
    out = _patch_outputs(conv, x)  # (P, 24): 12 whitened directions, then their negatives
    cov = out[:, :12].T @ out[:, :12] / len(out)
    assert torch.allclose(cov, torch.eye(12), atol=1e-2)  # eigenvalue / (eigenvalue + eps)
    assert torch.equal(conv.weight[12:], -conv.weight[:12]) and not conv.bias.any()
    # the patches themselves are far from white: the covariance is the stem's doing
    raw = nn.functional.unfold(x, 2).transpose(1, 2).flatten(0, 1)  # (P, 12)
    assert not torch.allclose(raw.T @ raw / len(raw), torch.eye(12), atol=0.2)


def test_without_whiten_init_from_data_changes_nothing() -> None:
    model = encoders.create("fastnet", in_channels=3, image_size=12)
    before = model.stem[0].weight.detach().clone()
    model.init_from_data(_correlated_images())
    assert torch.equal(model.stem[0].weight, before) and model.stem[0].weight.requires_grad


def test_whitened_stem_stays_frozen_through_training_steps() -> None:
    from toolkit.train.param_groups import param_groups

    model = encoders.create("fastnet", in_channels=3, image_size=12, whiten=True)
    x = _correlated_images(16)
    model.init_from_data(x)
    stem = model.stem[0].weight.detach().clone()
    conv1 = model.groups[0].conv1.weight.detach().clone()
    groups = param_groups([(list(model.parameters()), 1.0)], 0.1, 5e-4, bias_lr_scale=64.0)
    opt = torch.optim.SGD(groups, momentum=0.9, nesterov=True)
    for _ in range(3):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
    assert torch.equal(model.stem[0].weight, stem)
    assert not torch.equal(model.groups[0].conv1.weight, conv1)  # the rest trained
