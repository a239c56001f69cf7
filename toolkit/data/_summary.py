"""A plain-dict summary of a loaded competition, for ``tk data check`` and its ``--json``."""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit.data._competition import Competition
from toolkit.data._stats import channel_stats


def summary(comp: Competition) -> dict[str, Any]:
    """Format, classes with per-class counts, image shape and size policy, channel mean/std,
    set sizes, submission columns and whether an answer key is present; JSON-serialisable."""
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
        "image_size_text": describe_policy(comp.image_policy, comp.image_size),
        "image_policy": comp.image_policy,
        "channel_mean": [round(v, 6) for v in mean],
        "channel_std": [round(v, 6) for v in std],
        "train_count": len(comp.x_train),
        "test_count": len(comp.x_test),
        "submission_columns": [comp.id_column, comp.label_column],
        "has_answers": comp.has_answers,
        "fingerprint": comp.fingerprint,
    }


def describe_policy(policy: dict[str, Any], size: int) -> str:
    """One line for people: "64 x 64 (crop; images 120-640 px, median shorter side 200)"."""
    side = int(policy.get("size", size))
    head = f"{side} x {side}"
    sources = policy.get("source_sizes")
    if not policy or not sources:
        return head
    low, high, median = sources["min_side"], sources["max_side"], sources["median_side"]
    if policy.get("native"):
        return f"{head} (native: no resampling)"
    how = policy.get("resize", "crop")
    if low == high and not sources.get("non_square"):
        return f"{head} ({how}; every image {low} x {low})"
    odd = sources.get("non_square", 0)
    tail = f", {odd} not square" if odd else ""
    return f"{head} ({how}; images {low}-{high} px, median shorter side {median}{tail})"
