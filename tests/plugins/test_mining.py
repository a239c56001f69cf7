"""Triplet miners on hand-made embeddings, checked against brute-force definitions."""

from __future__ import annotations

import itertools

import torch
from toolkit_plugins.losses._mining import (
    all_triplets,
    batch_hard_triplets,
    hardest_negative_triplets,
    semi_hard_triplets,
)

# 1-D points: class 0 at 0, 1, 3.5; class 1 at 2, 6 (no ties in any distance that matters).
POINTS = torch.tensor([[0.0], [1.0], [3.5], [2.0], [6.0]])
LABELS = torch.tensor([0, 0, 0, 1, 1])


def _dist(x: torch.Tensor) -> torch.Tensor:
    return torch.cdist(x, x)


def _as_set(triplets: tuple[torch.Tensor, ...]) -> set[tuple[int, int, int]]:
    return set(zip(*(t.tolist() for t in triplets), strict=True))


def _brute_force(labels: torch.Tensor) -> set[tuple[int, int, int]]:
    n, lab = len(labels), labels.tolist()
    return {
        (a, p, q)
        for a, p, q in itertools.product(range(n), repeat=3)
        if a != p and lab[a] == lab[p] and lab[q] != lab[a]
    }


def test_batch_hard_picks_farthest_positive_and_closest_negative() -> None:
    got = _as_set(batch_hard_triplets(_dist(POINTS), LABELS))
    # anchor 0 (x=0): positives 1 (d=1), 2 (d=3.5) -> 2; negatives 3 (d=2), 4 (d=6) -> 3
    # anchor 3 (x=2): only positive 4; negatives 0 (2), 1 (1), 2 (1.5) -> 1
    assert got == {(0, 2, 3), (1, 2, 3), (2, 0, 3), (3, 4, 1), (4, 3, 2)}


def test_all_returns_every_valid_triplet() -> None:
    got = all_triplets(_dist(POINTS), LABELS)
    # class 0: 3 anchors x 2 positives x 2 negatives; class 1: 2 x 1 x 3
    assert len(got[0]) == 3 * 2 * 2 + 2 * 1 * 3 == 18
    assert _as_set(got) == _brute_force(LABELS)


def test_semi_hard_keeps_negatives_inside_the_margin() -> None:
    torch.manual_seed(0)
    emb = torch.randn(24, 2)
    labels = torch.arange(24) % 4
    dist = _dist(emb)
    margin = 0.5
    got = _as_set(semi_hard_triplets(dist, labels, margin))
    expected = {
        (a, p, n)
        for a, p, n in _brute_force(labels)
        if dist[a, p] < dist[a, n] < dist[a, p] + margin
    }
    assert got == expected and len(got) > 0
    # by hand at margin 1.5: d(0,1)=1 < d(0,3)=2 < 2.5 and d(4,3)=4 < d(4,1)=5 < 5.5
    assert _as_set(semi_hard_triplets(_dist(POINTS), LABELS, 1.5)) == {(0, 1, 3), (4, 3, 1)}


def test_hardest_negative_pairs_each_positive_pair_with_the_closest_negative() -> None:
    got = _as_set(hardest_negative_triplets(_dist(POINTS), LABELS))
    closest = {0: 3, 1: 3, 2: 3, 3: 1, 4: 2}
    expected = {(a, p, closest[a]) for a, p, _ in _brute_force(LABELS)}
    assert got == expected


def test_miners_return_nothing_without_a_valid_triplet() -> None:
    one_class = torch.zeros(4, dtype=torch.long)
    all_distinct = torch.arange(4)
    emb = torch.randn(4, 3)
    for labels in (one_class, all_distinct):
        dist = _dist(emb)
        assert len(all_triplets(dist, labels)[0]) == 0
        assert len(batch_hard_triplets(dist, labels)[0]) == 0
        assert len(semi_hard_triplets(dist, labels, 1.0)[0]) == 0
        assert len(hardest_negative_triplets(dist, labels)[0]) == 0
