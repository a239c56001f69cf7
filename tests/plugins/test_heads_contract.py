"""The head contract, checked for every registered head.

``factory(in_features, num_classes, **params) -> nn.Module`` with ``trains_encoder: bool``;
``forward((B, D)) -> (B, num_classes)`` logits. How the encoder trains under a head
(``encoder_lr_scale``, ``init_from``) is a training setting, never a head parameter.
"""

from __future__ import annotations

import pytest
import torch
from conftest import assert_grads_reach, check_info

from toolkit.registry import heads

NAMES = heads.names()


def test_builtin_heads_are_registered() -> None:
    assert {"linear-probe", "mlp", "finetune"} <= set(NAMES)


@pytest.mark.parametrize("num_classes", [1, 2, 10])
@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_and_attributes(name: str, num_classes: int) -> None:
    torch.manual_seed(0)
    head = heads.create(name, in_features=12, num_classes=num_classes)
    assert isinstance(type(head).trains_encoder, bool)
    features = torch.randn(6, 12)  # (B, D)
    logits = head(features)
    assert logits.shape == (6, num_classes) and torch.isfinite(logits).all()
    (logits * torch.randn_like(logits)).sum().backward()
    assert_grads_reach(head)
    head.eval()
    with torch.no_grad():
        assert head(features[:1]).shape == (1, num_classes)


@pytest.mark.parametrize("name", NAMES)
def test_info_and_search_space(name: str) -> None:
    params = check_info(
        heads.info(name), lambda **kw: heads.create(name, in_features=4, num_classes=3, **kw)
    )
    assert not {"encoder_lr_scale", "init_from"} & set(params), f"{name}: training settings"
