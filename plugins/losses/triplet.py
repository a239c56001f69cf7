"""``triplet``: triplet margin loss on embeddings, with a choice of triplet miner."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from toolkit.errors import ToolkitError
from toolkit.registry import Choice, Float, LossTarget, losses

from ._mining import MINERS, hardest_negative_triplets, mine


@losses.register(
    "triplet",
    space={
        "margin": Float(0.05, 2.0, log=True),
        "mining": Choice(MINERS),
        "normalize": Choice((False, True)),
    },
)
class TripletLoss(nn.Module):
    """Triplet margin loss on mined triplets (all, semi-hard or batch-hard) of each batch.

    Per triplet: ``max(d(a, p) - d(a, n) + margin, 0)``, averaged over the mined triplets.
    """

    target: LossTarget = "embeddings"  # contract (EmbeddingLoss): the encoder's embeddings
    balanced_batches: bool = True  # contract: P x K batches, so every anchor has positives

    def __init__(
        self,
        num_classes: int,
        margin: float = 1.0,  # required gap between d(a,n) and d(a,p), in embedding distance
        p: int = 2,  # the p of the p-norm distance (2 = Euclidean)
        mining: str = "semi-hard",  # which triplets: "all", "semi-hard" or "batch-hard"
        normalize: bool = False,  # L2-normalise embeddings first (distances then lie in [0, 2])
    ) -> None:
        super().__init__()
        if mining not in MINERS:
            raise ToolkitError(
                f"triplet mining must be one of {', '.join(MINERS)}, got {mining!r}."
            )
        if margin <= 0:
            raise ToolkitError(f"triplet margin must be > 0, got {margin}; try 0.2 to 1.0.")
        if p < 1:
            raise ToolkitError(f"triplet p (the p-norm) must be >= 1, got {p}.")
        self.num_classes = num_classes
        self.margin = margin
        self.p = p
        self.mining = mining
        self.normalize = normalize
        self.last_num_triplets = 0  # triplets used by the last forward, for logging

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # embeddings: (B, D); labels: (B,) int64
        emb = embeddings.float()
        if self.normalize:
            emb = F.normalize(emb, dim=1)
        # Exact (not matmul-based) distances: stable gradients, even at distance 0.
        dist = torch.cdist(
            emb, emb, p=float(self.p), compute_mode="donot_use_mm_for_euclid_dist"
        )  # (B, B)
        mined = dist.detach()
        anchors, positives, negatives = mine(mined, labels, self.mining, self.margin)
        if len(anchors) == 0 and self.mining == "semi-hard":
            # No negative inside the margin: the hardest negatives still give a signal.
            anchors, positives, negatives = hardest_negative_triplets(mined, labels)
        self.last_num_triplets = len(anchors)
        if len(anchors) == 0:
            classes = labels.unique().numel()
            raise ToolkitError(
                f"triplet loss found no triplet in a batch of {len(labels)} embeddings with "
                f"{classes} class(es); a batch needs at least 2 classes and a class with 2+ "
                "images: draw batches with the P x K balanced sampler or raise the batch size."
            )
        # Gather distances, not embeddings: (T,) scalars instead of (T, D) rows.
        d_ap, d_an = dist[anchors, positives], dist[anchors, negatives]  # (T,) each
        return F.relu(d_ap - d_an + self.margin).mean()
