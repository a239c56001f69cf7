"""convnet4 is the assignment's CNN layer for layer; pixels is the flattened image."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.registry import encoders


def test_convnet4_layer_structure() -> None:
    model = encoders.create("convnet4", in_channels=3, image_size=32)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 64),
        (64, 64),
        (64, 128),
        (128, 128),
    ]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 4
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 2
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(8192, 4096), (4096, 128)]
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert [d.p for d in dropouts] == [0.1]
    # Order: conv, BN, ReLU after each conv; pools after the 2nd and 4th.
    kinds = [type(m).__name__ for m in model.modules() if not list(m.children())]
    assert kinds == [
        *["Conv2d", "BatchNorm2d", "ReLU"] * 2,
        "MaxPool2d",
        *["Conv2d", "BatchNorm2d", "ReLU"] * 2,
        "MaxPool2d",
        "Flatten",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    assert model.out_dim == 128


def test_convnet4_params_and_sizes() -> None:
    model = encoders.create(
        "convnet4", in_channels=1, image_size=8, embedding_dim=64, hidden=32, dropout=0.3
    )
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears[0].in_features == 128 * 2 * 2  # 8x8 pooled twice
    assert model.out_dim == 64 and model(torch.randn(2, 1, 8, 8)).shape == (2, 64)


def test_convnet4_rejects_bad_values() -> None:
    with pytest.raises(ToolkitError, match="dropout"):
        encoders.create("convnet4", in_channels=3, image_size=32, dropout=1.5)


def test_pixels_flattens_in_chw_order() -> None:
    model = encoders.create("pixels", in_channels=3, image_size=4)
    x = torch.randn(2, 3, 4, 4)
    assert model.out_dim == 48
    assert torch.equal(model(x), x.reshape(2, 48))
    assert torch.equal(model(x.contiguous(memory_format=torch.channels_last)), x.reshape(2, 48))
    assert list(model.parameters()) == []
