"""finetune: an end-to-end head whose training settings live in the training config."""

from __future__ import annotations

import pytest

from toolkit.errors import ToolkitError
from toolkit.registry import Float, heads


def test_attributes() -> None:
    head = heads.create("finetune", in_features=8, num_classes=3, dropout=0.1)
    assert head.trains_encoder is True
    frozen = [heads.create(n, in_features=8, num_classes=3) for n in ("linear-probe", "mlp")]
    assert [h.trains_encoder for h in frozen] == [False, False]


def test_encoder_settings_are_training_settings() -> None:
    info = heads.info("finetune")
    assert [p.name for p in info.params] == ["dropout"]
    assert info.space["train.encoder_lr_scale"] == Float(0.01, 1.0, log=True)
    for key in ("encoder_lr_scale", "init_from"):
        with pytest.raises(ToolkitError, match=rf"no parameter '{key}'; it accepts: dropout"):
            heads.create("finetune", in_features=8, num_classes=3, **{key: ""})


def test_dropout_range() -> None:
    with pytest.raises(ToolkitError, match=r"finetune dropout must be in \[0, 1\)"):
        heads.create("finetune", in_features=8, num_classes=3, dropout=1.0)
