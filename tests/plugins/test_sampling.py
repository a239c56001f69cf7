"""The P x K class-balanced batch sampler."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from toolkit_plugins.losses import balanced_batches

from toolkit.errors import ToolkitError

# class sizes 10, 10, 3, 1, 10: two classes are smaller than K
LABELS = torch.tensor([0] * 10 + [1] * 10 + [2] * 3 + [3] * 1 + [4] * 10)


def test_batches_hold_p_classes_of_k_images() -> None:
    gen = torch.Generator().manual_seed(0)
    batches = list(balanced_batches(LABELS, p=3, k=4, num_batches=50, generator=gen))
    assert len(batches) == 50
    seen = set()
    for batch in batches:
        assert batch.shape == (12,) and batch.dtype == torch.long
        counts = Counter(LABELS[batch].tolist())
        assert len(counts) == 3 and set(counts.values()) == {4}
        for c in counts:
            members = batch[LABELS[batch] == c]
            if c in (0, 1, 4):  # enough images: drawn without replacement
                assert len(set(members.tolist())) == 4
        seen |= set(counts)
    assert seen == {0, 1, 2, 3, 4}  # small classes are drawn too (with replacement)


def test_fewer_classes_than_p_uses_all_classes() -> None:
    batch = next(iter(balanced_batches(LABELS, p=8, k=2, num_batches=1)))
    assert sorted(Counter(LABELS[batch].tolist()).values()) == [2] * 5


def test_same_generator_seed_same_batches() -> None:
    def draw() -> list[list[int]]:
        gen = torch.Generator().manual_seed(3)
        return [b.tolist() for b in balanced_batches(LABELS, 2, 2, 5, generator=gen)]

    assert draw() == draw()


def test_impossible_batches_raise() -> None:
    with pytest.raises(ToolkitError, match="2 images per class"):
        next(iter(balanced_batches(LABELS, p=4, k=1, num_batches=1)))
    with pytest.raises(ToolkitError, match="2 classes per batch"):
        next(iter(balanced_batches(LABELS, p=1, k=4, num_batches=1)))
    with pytest.raises(ToolkitError, match="at least 2 classes"):
        next(iter(balanced_batches(torch.zeros(8, dtype=torch.long), 2, 2, 1)))
