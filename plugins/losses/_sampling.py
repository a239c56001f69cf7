"""The P x K class-balanced batch sampler that embedding losses need.

A triplet or contrastive loss learns only from pairs of the same class, so a batch must hold
several images of each of its classes. Each batch here takes P classes and K images of each.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from toolkit.errors import ToolkitError


def balanced_batches(
    labels: torch.Tensor,
    p: int,
    k: int,
    num_batches: int,
    generator: torch.Generator | None = None,
) -> Iterator[torch.Tensor]:
    """Yield ``num_batches`` index tensors of P classes x K images each, grouped by class.

    ``labels``: (N,) int64 labels of the whole training set. Classes are drawn without
    replacement; when fewer than ``p`` classes exist, every batch uses all of them. A class with
    fewer than ``k`` images is sampled with replacement, so it still gives K indices (repeated
    images act as easy positives). Each yielded tensor is (P*K,) int64 indices into ``labels``.
    """
    if k < 2:
        raise ToolkitError(
            f"class-balanced batches need at least 2 images per class (K), got {k}; "
            "use a batch size of at least 4."
        )
    if p < 2:
        raise ToolkitError(
            f"class-balanced batches need at least 2 classes per batch (P), got {p}; "
            "use a larger batch size."
        )
    labels = labels.reshape(-1).cpu()
    classes, inverse = labels.unique(return_inverse=True)
    if len(classes) < 2:
        raise ToolkitError(
            "class-balanced batches need at least 2 classes in the training set, found "
            f"{len(classes)}; an embedding loss cannot learn from one class."
        )
    members = [(inverse == c).nonzero(as_tuple=True)[0] for c in range(len(classes))]
    per_batch = min(p, len(classes))
    for _ in range(num_batches):
        chosen = torch.randperm(len(classes), generator=generator)[:per_batch]
        parts = []
        for c in chosen.tolist():
            idx = members[c]
            if len(idx) >= k:
                pick = torch.randperm(len(idx), generator=generator)[:k]
            else:
                pick = torch.randint(len(idx), (k,), generator=generator)
            parts.append(idx[pick])
        yield torch.cat(parts)  # (P*K,)
