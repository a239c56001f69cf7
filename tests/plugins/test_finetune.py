"""finetune: end-to-end head attributes and early checks of init_from."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.errors import ToolkitError
from toolkit.registry import heads


def test_attributes() -> None:
    head = heads.create("finetune", in_features=8, num_classes=3, encoder_lr_scale=0.1)
    assert head.trains_encoder is True
    assert head.encoder_lr_scale == 0.1 and head.init_from == ""
    frozen = [heads.create(n, in_features=8, num_classes=3) for n in ("linear-probe", "mlp")]
    assert [h.trains_encoder for h in frozen] == [False, False]


def test_init_from_accepts_a_folder_or_safetensors(tmp_path: Path) -> None:
    ckpt = tmp_path / "encoder.safetensors"
    ckpt.write_bytes(b"")
    for path in (tmp_path, ckpt):
        head = heads.create("finetune", in_features=8, num_classes=3, init_from=str(path))
        assert head.init_from == str(path)


def test_init_from_run_ids_are_left_to_the_core() -> None:
    head = heads.create("finetune", in_features=8, num_classes=3, init_from="20260101-abcd")
    assert head.init_from == "20260101-abcd"


def test_init_from_errors(tmp_path: Path) -> None:
    with pytest.raises(ToolkitError, match="does not exist"):
        missing = str(tmp_path / "x.safetensors")
        heads.create("finetune", in_features=8, num_classes=3, init_from=missing)
    other = tmp_path / "encoder.pt"
    other.write_bytes(b"")
    with pytest.raises(ToolkitError, match=r"not a \.safetensors"):
        heads.create("finetune", in_features=8, num_classes=3, init_from=str(other))
