"""``supcon``: supervised contrastive loss (Khosla et al., 2020), the L_out form."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from toolkit.errors import ToolkitError
from toolkit.registry import Float, LossTarget, losses


@losses.register("supcon", space={"temperature": Float(0.03, 0.5, log=True)})
class SupConLoss(nn.Module):
    """Supervised contrastive loss on L2-normalised embeddings: pull classes, push the rest."""

    target: LossTarget = "embeddings"  # contract (EmbeddingLoss): the encoder's embeddings
    balanced_batches: bool = True  # contract: P x K batches, so every anchor has positives

    def __init__(
        self,
        num_classes: int,
        temperature: float = 0.1,  # softmax temperature on cosine similarities
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ToolkitError(f"supcon temperature must be > 0, got {temperature}; try 0.1.")
        self.num_classes = num_classes
        self.temperature = temperature
        self.last_num_anchors = 0  # anchors with at least one positive in the last batch

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # embeddings: (B, D); labels: (B,) int64
        z = F.normalize(embeddings.float(), dim=1)  # (B, D)
        logits = z @ z.T / self.temperature  # (B, B)
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        positives = (labels[:, None] == labels[None, :]) & ~eye  # (B, B)
        num_pos = positives.sum(dim=1)  # (B,)
        has_pos = num_pos > 0  # (B,)
        self.last_num_anchors = int(has_pos.sum())
        has_negative = bool((labels != labels[:1]).any())  # at least 2 classes in the batch
        if self.last_num_anchors == 0 or not has_negative:
            classes = labels.unique().numel()
            raise ToolkitError(
                f"supcon found no usable anchor in a batch of {len(labels)} embeddings with "
                f"{classes} class(es); a batch needs at least 2 classes and a class with 2+ "
                "images: draw batches with the P x K balanced sampler or raise the batch size."
            )
        # log p(j | i) over every j != i: the anchor itself is left out of the denominator.
        log_prob = logits - logits.masked_fill(eye, float("-inf")).logsumexp(dim=1, keepdim=True)
        pos_log_prob = log_prob.masked_fill(~positives, 0.0).sum(dim=1)  # (B,)
        per_anchor = -pos_log_prob[has_pos] / num_pos[has_pos]  # (A,)
        return per_anchor.mean()
