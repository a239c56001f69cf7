"""Built-in losses (one plugin per module) and the pieces embedding losses share.

The core imports :func:`balanced_batches` from here to draw P x K batches for any loss whose
``balanced_batches`` attribute is True.
"""

from ._mining import (
    MINERS,
    Triplets,
    all_triplets,
    batch_hard_triplets,
    hardest_negative_triplets,
    mine,
    pair_masks,
    semi_hard_triplets,
)
from ._sampling import balanced_batches

__all__ = [
    "MINERS",
    "Triplets",
    "all_triplets",
    "balanced_batches",
    "batch_hard_triplets",
    "hardest_negative_triplets",
    "mine",
    "pair_masks",
    "semi_hard_triplets",
]
