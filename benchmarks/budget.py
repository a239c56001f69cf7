"""Accuracy within a wall-clock budget: our recipes against the reference loop, side by side.

    python benchmarks/budget.py COMPETITION [--budgets 300,600] [--only NAMES] [--json OUT]
    python benchmarks/budget.py --smoke --root DIR              # CI: a tiny generated set

For each budget, in fresh processes one after another on the same machine:

- ``fastnet-finetune``: ``tk train --recipe fastnet-finetune --budget B``;
- ``fastnet-supcon-probe``: ``tk train --recipe fastnet-supcon-probe --budget B``;
- ``reference``: ``benchmarks/reference_loop.py --budget B`` (convnet4, Adam, PIL pipeline);
- ``plain``: ``benchmarks/plain_tensor_loop.py --budget B`` (a strong student's tensor loop:
  ResNet-9-lite, SGD-Nesterov, one-cycle, label smoothing, flip TTA; prediction inside B).

Ours get a cold data cache, so decoding the images is inside the budget; the budget covers the
whole ``tk train`` process except Python start-up (the final evaluation and the artifacts
included). The reference trains for the whole budget and scores the test set afterwards, which
is outside its budget. Scored on the competition's answer key (``test_labels.csv``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
ENTRIES = ("fastnet-finetune", "fastnet-supcon-probe", "reference", "plain")


def run_recipe(
    competition: Path, recipe: str, budget: float, settings: list[str] | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {
            "TOOLKIT_RUNS": str(Path(tmp) / "runs"),
            "TOOLKIT_CACHE": str(Path(tmp) / "cache"),
        }
        cmd = [sys.executable, "-m", "toolkit", "train", str(competition), "--json", "-q"]
        cmd += ["--recipe", recipe, "--budget", f"{budget}s"]
        for setting in settings or []:
            cmd += ["--set", setting]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        out = json.loads(done.stdout)
        record = json.loads((Path(out["path"]) / "run.json").read_text())
    return {
        "test_acc": out.get("test_acc"),
        "val_acc": out.get("val_acc"),
        "val_score_last": record["metrics"].get("val_score_last"),
        "wall_s": round(wall, 1),
        "images_seen": record["images_seen"],
        "epochs": round(record["images_seen"] / record["split_sizes"]["train"], 2),
        "image_epochs": _image_epochs(record),  # without a probe's passes over features
        "machine": record.get("machine"),
        "autosize": record.get("autosize"),  # the width the budget picked, and the probe
        "duration_s": record.get("duration_s"),  # the run inside its process
        "budget_use": record.get("budget_use"),  # when training ended; the reserve it left
        "settings": settings or [],
    }


def _image_epochs(record: dict[str, Any]) -> float | None:
    """Passes over the train split's images: ``images_seen`` counts a probe's steps on frozen
    features too (``head_epochs`` of them), each stage's own count is in ``budget_use``."""
    stages = (record.get("budget_use") or {}).get("stages")
    if not stages:
        return None
    images = sum(s["images"] for s in stages if s["stage"] != "head")
    return round(images / record["split_sizes"]["train"], 2)


def run_script(script: str, competition: Path, budget: float, *extra: str) -> dict[str, Any]:
    """A baseline script (``reference_loop.py`` or ``plain_tensor_loop.py``) in its own process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(HERE / script), str(competition), "--budget", str(budget)]
        cmd += [*extra, "--json", str(out)]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        result = json.loads(out.read_text())
    return {
        "test_acc": result.get("test_acc"),
        "val_acc": None,
        "wall_s": round(wall, 1),
        "images_seen": result["images"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("competition", type=Path, nargs="?")
    parser.add_argument("--budgets", default="300,600", help="seconds, comma-separated")
    parser.add_argument("--only", default="", help=f"some of {','.join(ENTRIES)}")
    parser.add_argument("--smoke", action="store_true", help="tiny generated set, 4 s budgets")
    parser.add_argument("--root", type=Path, default=None, help="where --smoke writes its data")
    parser.add_argument(
        "--set", dest="settings", action="append", default=[], help="KEY=VALUE for our recipes"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    competition, budgets = args.competition, [float(b) for b in args.budgets.split(",")]
    if args.smoke:
        from _synthetic import Spec, ensure_competition

        root = args.root or Path(tempfile.mkdtemp())
        competition, _, _ = ensure_competition(root / "tiny", Spec(n_train=600, n_test=100))
        budgets = [4.0]
    if competition is None:
        parser.error("give a competition folder (or --smoke)")
    names = [n for n in args.only.split(",") if n] or list(ENTRIES)
    results: dict[str, dict[str, Any]] = {}
    for budget in budgets:
        row: dict[str, Any] = {}
        for name in names:
            if name == "reference":
                workers = ["--workers", str(os.cpu_count() or 1)]
                row[name] = run_script("reference_loop.py", competition, budget, *workers)
            elif name == "plain":
                row[name] = run_script("plain_tensor_loop.py", competition, budget)
            else:
                row[name] = run_recipe(competition, name, budget, args.settings)
            print(json.dumps({"budget_s": budget, name: row[name]}), flush=True)
        results[f"{budget:g}"] = row
    print(f"{'budget':>7}  " + "  ".join(f"{n:>22}" for n in names))
    for budget, row in results.items():
        cells = [f"{row[n]['test_acc'] or 0:>12.2%} ({row[n]['wall_s']:>5}s)" for n in names]
        print(f"{budget + 's':>7}  " + "  ".join(f"{c:>22}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps({"budgets": results}, indent=2))


if __name__ == "__main__":
    main()
