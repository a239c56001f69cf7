"""How steady is the autosize probe? The same probe, repeated in one process, and its choice.

    python benchmarks/autosize_probe.py COMPETITION [--budget 600] [--repeats 6] [--json OUT]
    python benchmarks/autosize_probe.py --smoke --root DIR        # CI: a tiny generated set

Sets up a run as ``tk train COMPETITION --recipe fastnet-finetune --budget B`` does (the same
config, data split, precision and threads), then probes every candidate width ``--repeats``
times, one after another, the first right after the data load as in a real run. For each
probe it reports two estimates from the same timed steps: the one ``autosize`` uses (the median
of the steps' rates after ``WARMUP_STEPS`` untimed steps) and the earlier one (all images over
all seconds after a single warm-up step), and the width each would choose for the budget.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def mean_after_one(steps: tuple[tuple[int, float], ...]) -> float:
    """The estimate before the median: images over seconds of every step but the first."""
    timed = steps[1:] or steps
    return sum(n for n, _ in timed) / max(sum(s for _, s in timed), 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("competition", type=Path, nargs="?")
    parser.add_argument("--recipe", default="fastnet-finetune")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds")
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--smoke", action="store_true", help="tiny generated set, 2 repeats")
    parser.add_argument("--root", type=Path, default=None, help="where --smoke writes its data")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    competition = args.competition
    if args.smoke:
        from _synthetic import Spec, ensure_competition

        root = args.root or Path(tempfile.mkdtemp())
        competition, _, _ = ensure_competition(root / "tiny", Spec(n_train=600, n_test=100))
        args.repeats, args.budget = 2, 60.0
    if competition is None:
        parser.error("give a competition folder (or --smoke)")

    import dataclasses

    from toolkit.data import load_competition
    from toolkit.train import autosize
    from toolkit.train.compose import compose_config
    from toolkit.train.device import resolve_device, resolve_precision
    from toolkit.train.plan import ENCODER_SHARE, TRAIN_SHARE
    from toolkit.train.prepare import prepare

    cfg = compose_config(recipe=args.recipe, settings={"budget": args.budget})
    device = resolve_device(cfg.device)
    prepared = prepare(cfg, load_competition(competition), device)  # as tk train does
    splits, setup = prepared.splits, prepared.setup
    n_train = len(splits.y_train)
    need = max(autosize.MIN_EPOCHS, autosize.MIN_IMAGES / n_train)

    def choice(speeds: dict[float, float], stage: str) -> float:
        share = ENCODER_SHARE if stage == "encoder" else TRAIN_SHARE
        fits = [w for w in autosize.WIDTHS if speeds[w] * args.budget * share / n_train >= need]
        return fits[0] if fits else autosize.WIDTHS[-1]

    repeats: list[dict[str, Any]] = []
    for r in range(args.repeats):
        median: dict[float, float] = {}
        mean: dict[float, float] = {}
        stage = ""
        for width in autosize.WIDTHS:
            candidate = dataclasses.replace(
                cfg, encoder_params={**cfg.encoder_params, "width": width}
            )
            measured = autosize.probe(candidate, splits, device, setup)
            if measured is None:
                parser.error(f"recipe {args.recipe}: the first stage trains on frozen features")
            stage = measured.stage
            median[width] = measured.images_per_s
            mean[width] = mean_after_one(measured.steps)
        row = {
            "median_img_s": {str(w): round(v, 1) for w, v in median.items()},
            "mean_img_s": {str(w): round(v, 1) for w, v in mean.items()},
            "choice_median": choice(median, stage),
            "choice_mean": choice(mean, stage),
        }
        repeats.append(row)
        print(json.dumps({"repeat": r, **row}), flush=True)

    def spread(key: str) -> dict[str, dict[str, float]]:
        out = {}
        for w in autosize.WIDTHS:
            values = [row[key][str(w)] for row in repeats]
            out[str(w)] = {
                "min": min(values),
                "max": max(values),
                "median": statistics.median(values),
                "max_over_min": round(max(values) / max(min(values), 1e-9), 2),
            }
        return out

    result = {
        "competition": str(competition),
        "recipe": args.recipe,
        "budget_s": args.budget,
        "n_train": n_train,
        "need_epochs": round(need, 1),
        "warmup_steps": autosize.WARMUP_STEPS,
        "precision": resolve_precision(cfg.precision, device),
        "repeats": repeats,
        "spread_median": spread("median_img_s"),
        "spread_mean": spread("mean_img_s"),
    }
    for key in ("spread_median", "spread_mean"):
        for w, s in result[key].items():
            print(
                f"{key:>13} width {w}: {s['min']:>7,.0f}-{s['max']:>7,.0f} img/s "
                f"(max/min {s['max_over_min']})"
            )
    for key in ("choice_median", "choice_mean"):
        print(f"{key:>13}: {[row[key] for row in repeats]}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
