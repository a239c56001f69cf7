"""Raw-pixel models: our softmax / binary regression against scikit-learn, same split.

    python benchmarks/raw_pixels.py COMPETITION [--classes a,b] [--json OUT]
    python benchmarks/raw_pixels.py --smoke --root DIR [--classes 0,1]   # CI: generated data

Both models see the same train/validation split (toolkit's stratified split, seed 0) and the
same standardised pixels. Reported: validation accuracy and fit time of each; ours is timed on
its second call in the process (the first, also reported, imports the plugins and warms torch
up: import work, like scikit-learn's own import, which is not timed either).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def ours(comp: Any, classes: tuple[str, ...]) -> dict[str, float]:
    from toolkit.train import TrainConfig, train

    cfg = TrainConfig(
        encoder="pixels",
        loss="bce" if classes else "softmax-ce",
        head="linear-probe",
        classes=classes,
        optimizer="sgd",
        head_lr=1e-2,
        head_epochs=20,
        head_batch_size=256,
    )
    timings = []
    for _ in range(2):  # the first call also imports the plugins and warms torch up
        t0 = time.perf_counter()
        result = train(cfg, comp, quiet=True, save=False)
        timings.append(time.perf_counter() - t0)
    return {
        "val_acc": result.metrics["val_acc"],
        "seconds": timings[1],
        "first_call_seconds": timings[0],
    }


def sklearn(comp: Any, classes: tuple[str, ...]) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    from toolkit.data import split_validation

    t0 = time.perf_counter()
    x = np.asarray(comp.x_train, dtype=np.float32).reshape(len(comp.x_train), -1) / 255.0
    y = np.asarray(comp.y_train)
    if classes:
        chosen = [[str(c) for c in comp.classes].index(c) for c in classes]
        keep = np.isin(y, chosen)
        x, y = x[keep], np.searchsorted(sorted(chosen), y[keep])
    tr, va = split_validation(y, 0.1, 0)
    mean, std = x[tr].mean(0), x[tr].std(0) + 1e-6
    model = LogisticRegression(max_iter=200)
    model.fit((x[tr] - mean) / std, y[tr])
    acc = float((model.predict((x[va] - mean) / std) == y[va]).mean())
    return {"val_acc": acc, "seconds": time.perf_counter() - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("competition", nargs="?")
    parser.add_argument("--classes", default="", help="two classes for the binary case")
    parser.add_argument("--smoke", action="store_true", help="tiny generated set (CI)")
    parser.add_argument("--root", type=Path, default=None, help="where --smoke writes its data")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from toolkit.data import load_competition

    competition = args.competition
    if args.smoke:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _synthetic import Spec, ensure_competition

        root = args.root or Path(tempfile.mkdtemp())
        competition, _, _ = ensure_competition(root / "tiny", Spec(n_train=500, n_test=50))
    if competition is None:
        parser.error("give a competition folder (or --smoke)")
    comp = load_competition(competition)
    classes = tuple(c for c in args.classes.split(",") if c)
    result = {
        "classes": list(classes) or "all",
        "ours": ours(comp, classes),
        "sklearn": sklearn(comp, classes),
    }
    result["time_ratio"] = result["sklearn"]["seconds"] / result["ours"]["seconds"]
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
