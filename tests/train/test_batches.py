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
