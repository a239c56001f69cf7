"""Recipe search: train named candidate recipes on one competition and compare them.

    python benchmarks/recipes.py COMPETITION [--budget 120] [--epochs 0] [--only a,b] [--json OUT]

Each candidate is a set of ``--set`` overrides on top of ``tk train``'s defaults. With
``--budget`` every candidate gets the same wall-clock seconds (data included) and its schedule
is shaped to end with it; with ``--epochs`` every candidate trains that many epochs. Reported:
validation and test accuracy (the answer key, when the competition has one), epochs trained,
images/s and seconds. This is the script whose numbers chose the recipes in
``toolkit/train/recipes.py`` (see docs/BENCHMARKS.md).

The ``ft-*`` candidates start from ``fastnet-finetune`` as it was before 2026-12-07's
side-by-side sitting adopted mixup, the bias learning-rate rule and alternating flips into it
(``ft-before-tricks``), and before the third sitting adopted 4-pixel crops and progressive
resizing, so the commands in docs/BENCHMARKS.md rerun what they measured;
``ft-before-resize`` is the recipe between the two sittings.

The competitors' techniques (issue 15) are candidates too, each the recipe plus one setting:
``ft-mixup``, ``ft-cutmix``, ``ft-ema``, ``ft-average5`` (SWA-style average of the last 5
evaluations), ``ft-folds5`` (a 5-fold cross-validation sharing the budget; its test accuracy
is the 5 models' average) and ``ft-pseudo`` (pseudo-labels from the ``fastnet-finetune`` run
of the same invocation, which must come first; its own budget does not count that run's).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# fastnet-finetune between 2026-12-07's side-by-side sitting and the third sitting: the two
# settings the third adopted, undone; BEFORE undoes the three the side-by-side sitting adopted too
BETWEEN: dict[str, Any] = {"crop_pad": 2, "progressive_resize": 0.0}
BEFORE: dict[str, Any] = {**BETWEEN, "mixup": 0.0, "bias_lr_scale": 1.0, "flip_mode": "random"}

# name -> (recipe it starts from, or "" for tk train's plain defaults; changes to it)
CANDIDATES: dict[str, tuple[str, dict[str, Any]]] = {
    "defaults": ("", {}),  # fastnet + finetune, Adam 1e-3, no augmentation
    "defaults+aug": ("", {"crop_pad": 2, "flip": True}),
    "fastnet-finetune": ("fastnet-finetune", {}),
    "ft-before-tricks": ("fastnet-finetune", BEFORE),
    "ft-before-resize": ("fastnet-finetune", BETWEEN),
    "ft-no-tta": ("fastnet-finetune", {**BEFORE, "tta": False}),
    "ft-no-label-smoothing": ("fastnet-finetune", {**BEFORE, "loss.label_smoothing": 0.0}),
    "ft-lr0.2": ("fastnet-finetune", {**BEFORE, "lr": 0.2}),
    "ft-lr0.05": ("fastnet-finetune", {**BEFORE, "lr": 0.05}),
    "ft-batch512": ("fastnet-finetune", {**BEFORE, "batch_size": 512, "lr": 0.2}),
    "ft-width0.75": ("fastnet-finetune", {**BEFORE, "encoder.width": 0.75}),
    "ft-width1": ("fastnet-finetune", {**BEFORE, "encoder.width": 1.0}),
    "ft-crop4": ("fastnet-finetune", {**BEFORE, "crop_pad": 4}),
    "fastnet-supcon-probe": ("fastnet-supcon-probe", {}),
    "supcon-temp0.2": ("fastnet-supcon-probe", {"loss.temperature": 0.2}),
    "supcon-adam": ("fastnet-supcon-probe", {"optimizer": "adam", "lr": 2e-3}),
    # what winning competitors do (issue 15), each on top of the recipe
    "ft-mixup": ("fastnet-finetune", {**BEFORE, "mixup": 0.2}),
    "ft-cutmix": ("fastnet-finetune", {**BEFORE, "cutmix": 1.0}),
    "ft-ema": ("fastnet-finetune", {**BEFORE, "ema": 0.99}),
    "ft-average5": ("fastnet-finetune", {**BEFORE, "average_last": 5}),
    "ft-folds5": ("fastnet-finetune", {**BEFORE, "folds": 5}),
    "ft-folds3": ("fastnet-finetune", {**BEFORE, "folds": 3}),
    "ft-pseudo": ("fastnet-finetune", {**BEFORE, "pseudo_labels": "@fastnet-finetune"}),
    # airbench94's tricks fastnet leaves out (issue 12), each on top of the recipe
    "ft-lookahead": ("fastnet-finetune", {**BEFORE, "lookahead": 0.5}),
    "ft-bias-lr": ("fastnet-finetune", {**BEFORE, "bias_lr_scale": 64.0}),  # airbench's
    "ft-alt-flips": ("fastnet-finetune", {**BEFORE, "flip_mode": "alternate"}),
    "ft-whiten": ("fastnet-finetune", {**BEFORE, "encoder.whiten": True}),
}


def config_of(name: str, budget: float, epochs: float) -> Any:
    from toolkit.train import TrainConfig, apply_overrides
    from toolkit.train.recipes import get_recipe

    recipe_name, changes = CANDIDATES[name]
    base, sets = TrainConfig(), {}
    if recipe_name:
        recipe = get_recipe(recipe_name)
        base = TrainConfig(encoder=recipe.encoder, loss=recipe.loss, head=recipe.head)
        sets.update(recipe.overrides())
    sets.update(changes)
    if budget > 0:
        sets.update(budget=budget, epochs=1000.0)  # the budget decides
    else:
        sets["epochs"] = epochs
    return apply_overrides(base, sets)


def run(
    competition: Any, name: str, budget: float, epochs: float, runs: Path, made: dict[str, str]
) -> dict[str, Any]:
    """Train candidate ``name`` into ``runs``; ``made`` maps candidates already trained in
    this invocation to their run folders (``@name`` in a setting stands for one)."""
    import dataclasses

    from toolkit.train import train
    from toolkit.train.kfold import train_folds

    cfg = config_of(name, budget, epochs)
    if cfg.pseudo_labels.startswith("@"):
        source = cfg.pseudo_labels[1:]
        if source not in made:
            raise SystemExit(f"{name} takes pseudo-labels from {source}: list {source} first")
        cfg = dataclasses.replace(cfg, pseudo_labels=made[source])
    t0 = time.perf_counter()
    if cfg.folds >= 2:
        result = train_folds(cfg, competition, quiet=True, runs_root=runs)
    else:
        result = train(cfg, competition, quiet=True, runs_root=runs)
    seconds = time.perf_counter() - t0
    made[name] = str(result.path)
    record = json.loads((Path(str(result.path)) / "run.json").read_text())
    members = [record]
    if record.get("kind") == "cv":
        members = [
            json.loads((Path(str(result.path)) / f["id"] / "run.json").read_text())
            for f in record["folds"]
        ]
    images = sum(r["images_seen"] for r in members)
    n_train = sum(r["split_sizes"]["train"] for r in members) / len(members)
    m = result.metrics
    out = {
        "val_acc": m.get("val_acc"),
        "test_acc": m.get("test_acc"),
        "seconds": round(seconds, 1),
        "epochs": round(images / n_train / len(members), 1),  # per model
        "images_per_s": round(images / seconds, 1),
    }
    for key in ("val_score_std", "oof_score"):
        if key in m:
            out[key] = m[key]
    for key in ("ema", "average_last", "pseudo_labels"):
        if key in record:
            out[key] = record[key]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("competition", nargs="?")
    parser.add_argument("--budget", type=float, default=0.0, help="seconds per candidate")
    parser.add_argument("--epochs", type=float, default=0.0, help="epochs per candidate")
    parser.add_argument("--only", default="", help="comma-separated candidate names")
    parser.add_argument("--smoke", action="store_true", help="tiny generated set, 2 candidates")
    parser.add_argument("--root", type=Path, default=None, help="where --smoke writes its data")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep-runs", type=Path, default=None, help="keep the run folders here")
    args = parser.parse_args()
    from toolkit.data import load_competition

    competition, only = args.competition, args.only
    if args.smoke:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _synthetic import Spec, ensure_competition

        root = args.root or Path(tempfile.mkdtemp())
        competition, _, _ = ensure_competition(root / "tiny", Spec(n_train=400, n_test=50))
        only, args.epochs = "fastnet-finetune,fastnet-supcon-probe,ft-folds3,ft-pseudo", 1.0
    if competition is None:
        parser.error("give a competition folder (or --smoke)")
    comp = load_competition(competition)
    names = [n for n in only.split(",") if n] or list(CANDIDATES)
    results: dict[str, dict[str, Any]] = {}
    made: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.keep_runs or Path(tmp)
        for name in names:
            results[name] = run(comp, name, args.budget, args.epochs or 8.0, runs, made)
            print(json.dumps({name: results[name]}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
