"""Batched normalisation, augmentation and batch samplers."""

from __future__ import annotations

import torch

from toolkit.train.batches import Normalizer, augment, balanced_batches, shuffled_batches


def test_normalizer_fits_train_statistics() -> None:
    x = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    norm = Normalizer.fit(x)
    out = norm(x)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(out.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-2)


def test_augment_crops_are_shifts_and_flips_mirror() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6)
    flipped = augment(x, crop_pad=0, flip=True, generator=gen)
    for i in range(2):
        assert torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(2))
    cropped = augment(x, crop_pad=2, flip=False, generator=torch.Generator().manual_seed(1))
    assert cropped.shape == x.shape
    # The centre of a shifted crop comes from the original image at some offset.
    for i in range(2):
        centre = cropped[i, 0, 2:4, 2:4]
        found = any(
            torch.equal(centre, x[i, 0, r : r + 2, c : c + 2]) for r in range(5) for c in range(5)
        )
        assert found


def test_shuffled_batches_cover_each_index_once() -> None:
    gen = torch.Generator().manual_seed(0)
    batches = list(shuffled_batches(10, 3, gen))
    assert [len(b) for b in batches] == [3, 3, 3]  # the last partial batch is dropped
    assert len(set(torch.cat(batches).tolist())) == 9


def test_balanced_batches_hold_k_images_of_p_classes() -> None:
    labels = torch.tensor([0] * 10 + [1] * 3 + [2] * 7 + [3] * 1)
    gen = torch.Generator().manual_seed(0)
    for batch in balanced_batches(labels, batch_size=8, generator=gen, num_batches=5):
        counts = torch.bincount(labels[batch], minlength=4)
        present = counts[counts > 0]
        assert len(batch) == 8
        assert len(present) == 4 and bool((present == 2).all())  # P=4 classes x K=2


def test_random_resized_crop_keeps_the_image_at_full_scale_and_zooms_below_it() -> None:
    from toolkit.train.batches import random_resized_crop

    x = torch.rand(4, 3, 16, 16)
    # Scale 1 and ratio 1: the whole image, resampled at its own pixel centres.
    same = random_resized_crop(x, 0.9999, torch.Generator().manual_seed(0), ratio=(1.0, 1.0))
    assert same.shape == x.shape and torch.allclose(same, x, atol=1e-3)
    zoomed = random_resized_crop(x, 0.1, torch.Generator().manual_seed(0))
    assert zoomed.shape == x.shape and not torch.allclose(zoomed, x, atol=1e-2)
    again = random_resized_crop(x, 0.1, torch.Generator().manual_seed(0))
    assert torch.equal(zoomed, again)  # seeded: the same crops


def test_random_resized_crop_of_a_quarter_scales_a_quadrant_up() -> None:
    from toolkit.train.batches import random_resized_crop

    # Left half 0, right half 1: any crop shows only values in [0, 1] and, at a small
    # scale, often only one side.
    x = torch.zeros(64, 1, 8, 8)
    x[..., 4:] = 1.0
    out = random_resized_crop(x, 0.05, torch.Generator().manual_seed(3))
    assert out.min() >= 0 and out.max() <= 1
    one_sided = ((out.amax(dim=(1, 2, 3)) < 0.5) | (out.amin(dim=(1, 2, 3)) > 0.5)).sum()
    assert int(one_sided) > 0
    via_augment = augment(x, 0, False, torch.Generator().manual_seed(3), rrc_scale=0.05)
    assert torch.equal(via_augment, out)
