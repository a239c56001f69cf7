"""Test-time augmentation: at most three views, made on the device, one forward pass a batch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.train import evaluate as ev
from toolkit.train.batches import Normalizer
from toolkit.train.tta import (
    TTA,
    check_trained,
    mean_over_views,
    stack_views,
    trained_tta,
    validation_tta,
)


@pytest.mark.parametrize(
    ("tta", "views"),
    [
        (TTA(flip=False, shift=0), 1),
        (TTA(flip=True, shift=0), 2),
        (TTA(flip=False, shift=1), 3),
        (TTA(flip=True, shift=2), 3),
    ],
)
def test_never_more_than_three_views_the_original_first(tta: TTA, views: int) -> None:
    assert len(tta.views()) == views and tta.views()[0] == (0, 0, False)
    assert tta.to_dict()["views"] == views and tta.active == (views > 1)


def test_views_are_stacked_along_the_batch_shifted_with_edges_repeated() -> None:
    x = torch.arange(32, dtype=torch.float32).reshape(2, 1, 4, 4)  # (B, C, H, W)
    stacked = stack_views(x, TTA(flip=False, shift=1))  # original, up-left, down-right
    assert stacked.shape == (6, 1, 4, 4)
    assert torch.equal(stacked[:2], x)
    up_left, down_right = stacked[2:4], stacked[4:6]
    assert torch.equal(up_left[:, :, :-1, :-1], x[:, :, 1:, 1:])  # content moved up and left
    assert torch.equal(up_left[:, :, -1, :-1], x[:, :, -1, 1:])  # last row repeated
    assert torch.equal(down_right[:, :, 1:, 1:], x[:, :, :-1, :-1])
    assert torch.equal(down_right[:, :, 0, 1:], x[:, :, 0, :-1])  # first row repeated
    flipped = stack_views(x, TTA(flip=True, shift=0))
    assert torch.equal(flipped[2:], x.flip(3))
    assert stack_views(x, None) is x


def test_mean_over_views_averages_each_image_over_its_views() -> None:
    x = torch.randn(3, 2, 5, 5)
    tta = TTA(flip=True, shift=1)
    out = stack_views(x, tta).mean(dim=(2, 3))  # (V*B, C): a stand-in for features
    views = [v.mean(dim=(2, 3)) for v in stack_views(x, tta).split(3)]
    assert torch.allclose(mean_over_views(out, tta), sum(views) / 3)


def test_a_shift_as_large_as_the_image_is_refused() -> None:
    with pytest.raises(ToolkitError, match="as large as the image"):
        stack_views(torch.zeros(1, 1, 2, 2), TTA(flip=False, shift=2))


def test_embed_puts_every_view_of_a_batch_through_one_forward_pass() -> None:
    calls: list[int] = []

    class Spy(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(len(x))
            return x.float().mean(dim=(2, 3))

    x = torch.randint(0, 256, (10, 1, 6, 6), dtype=torch.uint8)
    norm = Normalizer(torch.zeros(1), torch.ones(1))
    plain = ev.embed(Spy(), x, norm, batch_size=6)
    assert calls == [6, 4]
    calls.clear()
    feats = ev.embed(Spy(), x, norm, batch_size=6, tta=TTA(flip=True, shift=1))
    assert calls == [6, 6, 6, 6, 6]  # 2 images x 3 views per forward pass, never over 6
    assert feats.shape == plain.shape
    # Spatial means: the flip keeps them, shifts with repeated edges barely move them.
    assert torch.allclose(feats, plain, atol=0.5 * float(plain.abs().max()))


def test_a_run_predicts_only_with_views_it_trained_on() -> None:
    digits_like = {"flip": False, "crop_pad": 0, "tta": True}
    assert validation_tta(digits_like) is None  # tta = true, but it never saw a mirror
    assert not trained_tta(digits_like).active
    photos = {"flip": True, "crop_pad": 2, "tta": True}
    assert validation_tta(photos) == TTA(flip=True, shift=0)
    assert trained_tta(photos) == TTA(flip=True, shift=1)
    assert validation_tta({**photos, "tta": False}) is None
    with pytest.raises(ToolkitError, match="trained without flips"):
        check_trained(TTA(flip=True), digits_like, "r1")
    with pytest.raises(ToolkitError, match="without random crops"):
        check_trained(TTA(flip=False, shift=1), digits_like, "r1")
    check_trained(TTA(flip=True, shift=1), photos, "r1")  # both trained: accepted
