"""Recipe search: train named candidate recipes on one competition and compare them.

    python benchmarks/recipes.py COMPETITION [--budget 120] [--epochs 0] [--only a,b] [--json OUT]

Each candidate is a set of ``--set`` overrides on top of ``tk train``'s defaults. With
``--budget`` every candidate gets the same wall-clock seconds (data included) and its schedule
is shaped to end with it; with ``--epochs`` every candidate trains that many epochs. Reported:
validation and test accuracy (the answer key, when the competition has one), epochs trained,
images/s and seconds. This is the script whose numbers chose the recipes in
``toolkit/train/recipes.py`` (see docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# name -> (recipe it starts from, or "" for tk train's plain defaults; changes to it)
CANDIDATES: dict[str, tuple[str, dict[str, Any]]] = {
    "defaults": ("", {}),  # fastnet + finetune, Adam 1e-3, no augmentation
    "defaults+aug": ("", {"crop_pad": 2, "flip": True}),
    "fastnet-finetune": ("fastnet-finetune", {}),
    "ft-no-tta": ("fastnet-finetune", {"tta": False}),
    "ft-no-label-smoothing": ("fastnet-finetune", {"loss.label_smoothing": 0.0}),
    "ft-lr0.2": ("fastnet-finetune", {"lr": 0.2}),
    "ft-lr0.05": ("fastnet-finetune", {"lr": 0.05}),
    "ft-batch512": ("fastnet-finetune", {"batch_size": 512, "lr": 0.2}),
    "ft-width0.75": ("fastnet-finetune", {"encoder.width": 0.75}),
    "ft-width1": ("fastnet-finetune", {"encoder.width": 1.0}),
    "ft-crop4": ("fastnet-finetune", {"crop_pad": 4}),
    "fastnet-supcon-probe": ("fastnet-supcon-probe", {}),
    "supcon-temp0.2": ("fastnet-supcon-probe", {"loss.temperature": 0.2}),
    "supcon-adam": ("fastnet-supcon-probe", {"optimizer": "adam", "lr": 2e-3}),
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


def run(competition: Any, name: str, budget: float, epochs: float) -> dict[str, Any]:
    from toolkit.train import train

    cfg = config_of(name, budget, epochs)
    with tempfile.TemporaryDirectory() as runs:
        t0 = time.perf_counter()
        result = train(cfg, competition, quiet=True, runs_root=Path(runs))
        seconds = time.perf_counter() - t0
        record = json.loads((Path(str(result.path)) / "run.json").read_text())
    n_train = len(competition.y_train) * (1 - cfg.val_fraction)
    m = result.metrics
    return {
        "val_acc": m.get("val_acc"),
        "test_acc": m.get("test_acc"),
        "seconds": round(seconds, 1),
        "epochs": round(record["images_seen"] / n_train, 1),
        "images_per_s": round(record["images_seen"] / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("competition", nargs="?")
    parser.add_argument("--budget", type=float, default=0.0, help="seconds per candidate")
    parser.add_argument("--epochs", type=float, default=0.0, help="epochs per candidate")
    parser.add_argument("--only", default="", help="comma-separated candidate names")
    parser.add_argument("--smoke", action="store_true", help="tiny generated set, 2 candidates")
    parser.add_argument("--root", type=Path, default=None, help="where --smoke writes its data")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from toolkit.data import load_competition

    competition, only = args.competition, args.only
    if args.smoke:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _synthetic import Spec, ensure_competition

        root = args.root or Path(tempfile.mkdtemp())
        competition, _, _ = ensure_competition(root / "tiny", Spec(n_train=400, n_test=50))
        only, args.epochs = "fastnet-finetune,fastnet-supcon-probe", 1.0
    if competition is None:
        parser.error("give a competition folder (or --smoke)")
    comp = load_competition(competition)
    names = [n for n in only.split(",") if n] or list(CANDIDATES)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        results[name] = run(comp, name, args.budget, args.epochs or 8.0)
        print(json.dumps({name: results[name]}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
