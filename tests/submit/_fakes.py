"""A Competition built in memory (tiny blank images), for tests that need no real data."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.data import Competition


def fake_competition(
    root: Path,
    *,
    ids: Sequence[Any],
    classes: Sequence[Any],
    id_column: str = "id",
    label_column: str = "label",
    sample: bool = True,
    id_texts: Sequence[str] | None = None,
) -> Competition:
    """A Competition with tiny blank images, optionally with a sample_submission.csv on disk."""
    root.mkdir(parents=True, exist_ok=True)
    texts = list(id_texts) if id_texts is not None else [str(i) for i in ids]
    if sample:
        with (root / "sample_submission.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow([id_column, label_column])
            writer.writerows([t, classes[0]] for t in texts)
    x = np.zeros((len(ids), 1, 2, 2), dtype=np.uint8)
    return Competition(
        name=root.name,
        root=root,
        format="kaggle-images",
        x_train=x,
        y_train=np.zeros(len(ids), dtype=np.int64),
        classes=tuple(classes),
        x_test=x,
        test_ids=tuple(ids),
        id_column=id_column,
        label_column=label_column,
        y_test=None,
        fingerprint="0" * 64,
    )
