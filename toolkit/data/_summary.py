"""A plain-dict summary of a loaded competition, for ``tk data check`` and its ``--json``."""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit.data._competition import Competition
from toolkit.data._stats import channel_stats


def summary(comp: Competition) -> dict[str, Any]:
    """Format, classes with per-class counts, image shape, channel mean/std, set sizes,
    submission columns and whether an answer key is present; JSON-serialisable."""
    mean, std = channel_stats(comp.x_train)
    train_counts = np.bincount(comp.y_train, minlength=comp.num_classes).tolist()
    test_counts = (
        np.bincount(comp.y_test, minlength=comp.num_classes).tolist()
        if comp.y_test is not None
        else [None] * comp.num_classes
    )
    return {
        "name": comp.name,
        "root": str(comp.root),
        "format": comp.format,
        "num_classes": comp.num_classes,
        "classes": [
            {"label": label, "train": n, "test": m}
            for label, n, m in zip(comp.classes, train_counts, test_counts, strict=True)
        ],
        "image_shape": [comp.channels, comp.image_size, comp.image_size],
        "channel_mean": [round(v, 6) for v in mean],
        "channel_std": [round(v, 6) for v in std],
        "train_count": len(comp.x_train),
        "test_count": len(comp.x_test),
        "submission_columns": [comp.id_column, comp.label_column],
        "has_answers": comp.has_answers,
        "fingerprint": comp.fingerprint,
    }
