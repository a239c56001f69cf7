"""Triplet miners: (distances, labels) -> index tuples (anchors, positives, negatives).

Mining and loss are separate pieces (as in pytorch-metric-learning): a miner only picks
indices, so any triplet loss can use any miner. Every miner takes

- ``dist``: (B, B) pairwise distances of the batch's embeddings (no gradient needed),
- ``labels``: (B,) int64 class labels,

and returns three (T,) int64 tensors of batch indices, one entry per triplet. A positive is
another item (a different index) of the anchor's class; a negative is an item of another class.
Masks are built per positive pair, (pairs, B), never as a (B, B, B) cube.
"""

from __future__ import annotations

import torch

Triplets = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (anchors, positives, negatives)

MINERS = ("all", "semi-hard", "batch-hard")  # the names TripletLoss accepts


def pair_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, B) boolean masks of positive pairs (same class, i != j) and negative pairs."""
    same = labels[:, None] == labels[None, :]  # (B, B)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def all_triplets(dist: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """Every valid triplet: each positive pair (a, p) with each negative n of a."""
    del dist  # every triplet is taken, whatever the distances
    pos, neg = pair_masks(labels)
    anchors, positives = pos.nonzero(as_tuple=True)  # (P,) each: all positive pairs
    pair_idx, negatives = neg[anchors].nonzero(as_tuple=True)  # (T,) each
    return anchors[pair_idx], positives[pair_idx], negatives


def semi_hard_triplets(dist: torch.Tensor, labels: torch.Tensor, margin: float) -> Triplets:
    """Triplets whose negative lies inside the margin but beyond the positive (FaceNet).

    Keeps (a, p, n) with ``d(a, p) < d(a, n) < d(a, p) + margin``: they have a non-zero loss
    but are not so hard that they collapse the embedding early in training.
    """
    pos, neg = pair_masks(labels)
    anchors, positives = pos.nonzero(as_tuple=True)  # (P,) each
    d_ap = dist[anchors, positives][:, None]  # (P, 1)
    d_an = dist[anchors]  # (P, B)
    keep = neg[anchors] & (d_an > d_ap) & (d_an < d_ap + margin)  # (P, B)
    pair_idx, negatives = keep.nonzero(as_tuple=True)  # (T,) each
    return anchors[pair_idx], positives[pair_idx], negatives


def hardest_negative_triplets(dist: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """Each positive pair (a, p) with the negative closest to a (semi-hard's fallback)."""
    pos, neg = pair_masks(labels)
    anchors, positives = pos.nonzero(as_tuple=True)  # (P,) each
    closest = dist.masked_fill(~neg, float("inf")).argmin(dim=1)  # (B,)
    has_neg = neg.any(dim=1)[anchors]  # (P,)
    return anchors[has_neg], positives[has_neg], closest[anchors][has_neg]


def batch_hard_triplets(dist: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """One triplet per anchor: its farthest positive and closest negative (Hermans et al.)."""
    pos, neg = pair_masks(labels)
    valid = pos.any(dim=1) & neg.any(dim=1)  # (B,) anchors with both
    farthest = dist.masked_fill(~pos, float("-inf")).argmax(dim=1)  # (B,)
    closest = dist.masked_fill(~neg, float("inf")).argmin(dim=1)  # (B,)
    anchors = valid.nonzero(as_tuple=True)[0]
    return anchors, farthest[anchors], closest[anchors]


def mine(dist: torch.Tensor, labels: torch.Tensor, miner: str, margin: float) -> Triplets:
    """Run the miner named ``miner`` (one of :data:`MINERS`)."""
    if miner == "all":
        return all_triplets(dist, labels)
    if miner == "semi-hard":
        return semi_hard_triplets(dist, labels, margin)
    if miner == "batch-hard":
        return batch_hard_triplets(dist, labels)
    raise ValueError(f"unknown miner {miner!r}; use one of {', '.join(MINERS)}")
