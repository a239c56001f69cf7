"""Start-up time of the CLI: ``tk --help`` and ``tk plugins list``, and whether they import torch.

    python benchmarks/startup.py [--runs 5] [--json OUT] [--smoke]

Each command runs ``--runs`` times as a fresh subprocess of the installed ``tk`` (the script
beside this Python, else ``python -m toolkit``); reported: the best and the median wall-clock
time. The goals are judged on the median (<= 0.5 s for ``--help``, <= 1 s for the listing).
``tk plugins list`` is timed with a warm listing cache (filled once before timing) and a cold
one (a new, empty cache folder for every run, so every plugin module is imported).

Whether torch was imported is read from Python's own import log (``PYTHONPROFILEIMPORTTIME``,
the same as ``-X importtime``), from a separate run of each command: logging slows a run down,
so those runs are not timed. The caches live in a temporary folder; nothing else is written.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOALS_S = {"help": 0.5, "plugins_list_warm": 1.0}  # median wall-clock seconds
HEAVY = ("torch", "torchvision", "optuna", "numpy", "timm")  # reported if a command imports them


def tk_command() -> list[str]:
    """The ``tk`` a user runs: the entry-point script beside this Python, else ``-m toolkit``."""
    script = Path(sys.executable).parent / "tk"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("tk")
    return [found] if found else [sys.executable, "-m", "toolkit"]


def run_once(args: list[str], env: dict[str, str]) -> float:
    """Wall-clock seconds of one run of ``tk args`` (it must succeed)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*tk_command(), *args], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"tk {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return seconds


def imported_modules(args: list[str], env: dict[str, str]) -> set[str]:
    """Top-level packages that ``tk args`` imported, from Python's import-time log."""
    proc = subprocess.run(
        [*tk_command(), *args],
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"tk {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    names = set()
    for line in proc.stderr.splitlines():
        # "import time:       123 |        456 |     torch.nn"
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "imported package":
                names.add(name.split(".")[0])
    if not names:
        raise SystemExit("no import log came back; is PYTHONPROFILEIMPORTTIME supported?")
    return names


def timings(samples: list[float]) -> dict[str, Any]:
    return {
        "best_s": round(min(samples), 3),
        "median_s": round(statistics.median(samples), 3),
        "runs": [round(s, 3) for s in samples],
    }


def measure(runs: int, root: Path) -> dict[str, Any]:
    """Time the commands and check their imports; caches under ``root``."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPROFILEIMPORTTIME"}
    warm_cache = root / "warm-cache"
    env = {**base, "TOOLKIT_CACHE": str(warm_cache)}
    help_args, list_args = ["--help"], ["plugins", "list"]

    run_once(help_args, env)  # one untimed run each: the OS file cache, not ours, is warmed
    run_once(list_args, env)  # ... and this one fills the listing cache
    results: dict[str, Any] = {
        "help": timings([run_once(help_args, env) for _ in range(runs)]),
        "plugins_list_warm": timings([run_once(list_args, env) for _ in range(runs)]),
    }
    cold = []
    for i in range(runs):
        cold.append(run_once(list_args, {**base, "TOOLKIT_CACHE": str(root / f"cold-{i}")}))
    results["plugins_list_cold"] = timings(cold)

    imports = {
        "help": imported_modules(help_args, env),
        "plugins_list_warm": imported_modules(list_args, env),
        "plugins_list_cold": imported_modules(
            list_args, {**base, "TOOLKIT_CACHE": str(root / "cold-imports")}
        ),
    }
    for key, names in imports.items():
        results[key]["imports_torch"] = "torch" in names
        results[key]["heavy_imports"] = sorted(n for n in HEAVY if n in names)
    for key, goal in GOALS_S.items():
        results[key]["goal_median_s"] = goal
        results[key]["meets_goal"] = (
            results[key]["median_s"] <= goal and not results[key]["imports_torch"]
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--smoke", action="store_true", help="one run each (for CI)")
    args = parser.parse_args()
    runs = 1 if args.smoke else max(1, args.runs)
    with tempfile.TemporaryDirectory(prefix="tk-startup-") as tmp:
        results = measure(runs, Path(tmp))
    out = {"command": tk_command(), "runs_per_command": runs, "results": results}

    print(f"{'command':<28} {'best s':>7} {'median s':>9} {'goal s':>7} {'torch':>6}  ok")
    labels = {
        "help": "tk --help",
        "plugins_list_warm": "tk plugins list (warm)",
        "plugins_list_cold": "tk plugins list (cold)",
    }
    for key, label in labels.items():
        r = results[key]
        goal = f"{r['goal_median_s']:.1f}" if "goal_median_s" in r else "-"
        ok = "-" if "meets_goal" not in r else ("yes" if r["meets_goal"] else "NO")
        torch = "yes" if r["imports_torch"] else "no"
        print(f"{label:<28} {r['best_s']:>7.3f} {r['median_s']:>9.3f} {goal:>7} {torch:>6}  {ok}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
