"""Built-in losses, one plugin per module, registered through entry points (pyproject.toml).

Embedding losses (``target = "embeddings"``) with ``balanced_batches = True`` are trained on
P x K class-balanced batches drawn by the core (:func:`toolkit.train.batches.balanced_batches`).
Triplet mining lives in :mod:`._mining`. Nothing is imported here, so listing plugins is cheap.
"""
