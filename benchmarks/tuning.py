"""Tuning on the bundled digits example: the epochs pruning saves, and what a second worker buys.

    python benchmarks/tuning.py [--trials 16] [--epochs 9] [--pruners asha,hyperband,median]
                                [--json OUT] [--smoke] [--keep DIR]

The study is the fine-tune pipeline of ``toolkit/studies/compare.toml`` (the study of ``tk run``:
fastnet at width 0.5, softmax cross-entropy, batch 64) searched over its plugins' own declared
spaces (lr, weight decay, label smoothing, dropout, encoder lr scale), TPE with seed 0. It is
written to a temporary folder with ``epochs`` (default 9, one evaluation per epoch: the
toolkit's default pruner, asha, has its rungs at evaluations 1 and 3, and no trial is pruned
at its 9th and last evaluation).

Runs of ``tk tune``, each a subprocess with a fresh journal storage and the same trial count:

1. ``--pruner none``, 1 worker: every trial trained to the end;
2. each pruner of ``--pruners`` (default: ``asha``, the toolkit's default, ``hyperband`` and
   ``median``), 1 worker;
3. ``--pruner none``, ``--workers 2``.

Pruning: epochs actually trained, summed over trials (each run's ``steps`` over its steps per
epoch), and the best validation accuracy, of each pruned study against run 1 (goals: at least
2x fewer epochs, best within 0.5 points). Each trial's intermediate values (``curve``), the
evaluation it was pruned at and its parameters are in the JSON, so other pruner settings can be
replayed on the unpruned study's curves without training. Scaling: finished trials per minute
of the whole command (start-up and data loading included) of run 3 against run 1 (goal: at
least 1.7x).
Run 3's workers get the threads the launcher gives them (the CPU count over 2, read from the
workers' environment); the 1-worker runs are given the same count. Everything (data, runs,
studies, caches) lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

STUDY = """\
# benchmarks/tuning.py's study: the fine-tune pipeline of toolkit/studies/compare.toml, searched
# over its plugins' declared spaces. The pruner and the trial count come from the command line.
[study]
name = "bench-tuning"
sampler = "tpe"
seed = 0
keep_checkpoints = 1

[fixed]
epochs = {epochs}
batch_size = 64

[[pipelines]]
encoder = "fastnet"
loss = "softmax-ce"
head = "finetune"
fixed = {{ "encoder.width" = 0.5 }}
"""

GOAL_EPOCH_RATIO = 2.0  # pruned study trains at least this many times fewer epochs
GOAL_BEST_GAP = 0.5  # ... and its best validation accuracy is within this many points
GOAL_SPEEDUP = 1.7  # two workers finish at least this many times more trials per minute


def run_study(
    root: Path,
    label: str,
    *,
    comp: Path,
    study_file: Path,
    trials: int,
    pruner: str,
    workers: int,
    threads: int,
) -> dict[str, Any]:
    """``tk tune`` once in a subprocess with its own storage; wall time, CPU time, workers' env."""
    env = dict(
        os.environ,
        TOOLKIT_RUNS=str(root / "runs" / label),
        TOOLKIT_STUDIES=str(root / "studies"),
        TOOLKIT_CACHE=str(root / "cache"),
        TOOLKIT_THREADS=str(threads),
        OMP_NUM_THREADS=str(threads),
    )
    storage = f"journal:{root / 'studies' / f'{label}.journal'}"
    cmd = [
        sys.executable,
        "-m",
        "toolkit",
        "tune",
        str(study_file),
        str(comp),
        "--name",
        label,
        "--trials",
        str(trials),
        "--pruner",
        pruner,
        "--workers",
        str(workers),
        "--storage",
        storage,
        "--quiet",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=root, stderr=subprocess.PIPE, text=True)
    seen: dict[int, dict[str, str]] = {}
    watcher = threading.Thread(target=_watch_workers, args=(proc, seen), daemon=True)
    watcher.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    watcher.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = summarize(label, storage, comp, root)
    summary.update(
        {
            "pruner": pruner,
            "workers": workers,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "cores_busy": round(cpu / wall, 2),  # average CPU cores in use
            "trials_per_min": round(summary["finished"] / (wall / 60), 2),
            "worker_env": sorted(
                {
                    (e.get("TOOLKIT_THREADS", "?"), e.get("OMP_NUM_THREADS", "?"))
                    for e in seen.values()
                }
            ),
            "worker_processes": len(seen),
        }
    )
    return summary


def summarize(name: str, storage: str, comp: Path, root: Path) -> dict[str, Any]:
    """States, values and epochs trained of every trial of study ``name``."""
    from toolkit.data import load_competition, split_validation
    from toolkit.tune.report import load

    competition = load_competition(comp, cache_dir=root / "cache")
    trials, epochs, starts, ends = [], 0.0, [], []
    for t in load(name, storage).get_trials(deepcopy=False):
        run = json.loads((Path(t.user_attrs["run_path"]) / "run.json").read_text())
        cfg = run["config"]
        train_idx, _ = split_validation(
            competition.y_train, cfg["val_fraction"], cfg["seed"], names=competition.classes
        )
        trained = run.get("steps", 0) / max(1, len(train_idx) // int(cfg["batch_size"]))
        epochs += trained
        starts += [t.datetime_start] if t.datetime_start else []
        ends += [t.datetime_complete] if t.datetime_complete else []
        trials.append(
            {
                "number": t.number,
                "state": t.state.name.lower(),
                "value": t.value,
                "epochs": round(trained, 3),
                "duration_s": run.get("duration_s"),
                "planned_evals": t.user_attrs.get("planned_evals"),
                "pruned_at_eval": t.user_attrs.get("pruned_at_eval"),
                "curve": [t.intermediate_values[k] for k in sorted(t.intermediate_values)],
                "params": t.params,
            }
        )
    values = [t["value"] for t in trials if t["state"] == "complete"]
    span = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
    return {
        "finished": sum(t["state"] in ("complete", "pruned") for t in trials),
        "complete": sum(t["state"] == "complete" for t in trials),
        "pruned": sum(t["state"] == "pruned" for t in trials),
        "failed": sum(t["state"] == "fail" for t in trials),
        "epochs_trained": round(epochs, 3),
        "best_val_acc": max(values) if values else None,
        "trials_span_s": round(span, 2),  # first trial's start to last trial's end
        "trials": trials,
    }


def _watch_workers(proc: subprocess.Popen[str], seen: dict[int, dict[str, str]]) -> None:
    """Record the thread settings in the environment of every descendant of ``proc``."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return
    while proc.poll() is None:
        parents: dict[int, int] = {}
        for entry in proc_dir.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
        family, grew = {proc.pid}, True
        while grew:
            children = {pid for pid, ppid in parents.items() if ppid in family} - family
            family |= children
            grew = bool(children)
        for pid in family - {proc.pid} - set(seen):
            try:
                raw = (proc_dir / str(pid) / "environ").read_bytes()
            except OSError:
                continue
            if not raw:  # the process is exiting (a zombie's environ reads empty): not a worker
                continue
            env = dict(
                item.split("=", 1)
                for item in raw.decode(errors="replace").split("\0")
                if "=" in item
            )
            seen[pid] = {k: env[k] for k in ("TOOLKIT_THREADS", "OMP_NUM_THREADS") if k in env}
        time.sleep(0.25)


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def benchmark(root: Path, trials: int, epochs: int, pruners: list[str]) -> dict[str, Any]:
    """The runs of the module docstring in ``root``; their figures and the goals met."""
    from toolkit.data import load_competition, make_example

    comp = make_example("digits", root / "digits")
    load_competition(comp, cache_dir=root / "cache")  # decoded once, before any timing
    study_file = root / "bench-tuning.toml"
    study_file.write_text(STUDY.format(epochs=epochs))
    threads = max(1, (os.cpu_count() or 1) // 2)  # what the launcher gives each of 2 workers
    common = {"comp": comp, "study_file": study_file, "trials": trials, "threads": threads}
    load_before = os.getloadavg()
    # Study names are fixed: Hyperband assigns trials to brackets by a hash of name and number.
    full = run_study(root, "none-w1", pruner="none", workers=1, **common)
    pruned = {
        name: run_study(root, f"{name}-w1", pruner=name, workers=1, **common) for name in pruners
    }
    two = run_study(root, "none-w2", pruner="none", workers=2, **common)
    load_after = os.getloadavg()

    comparisons = {}
    for name, run in pruned.items():
        ratio = full["epochs_trained"] / max(run["epochs_trained"], 1e-9)
        gap = (
            100 * (full["best_val_acc"] - run["best_val_acc"])
            if full["best_val_acc"] is not None and run["best_val_acc"] is not None
            else None
        )
        same = sum(
            a["params"] == b["params"] for a, b in zip(full["trials"], run["trials"], strict=False)
        )
        comparisons[name] = {
            **run,
            "same_params_as_none": same,  # trials that drew the unpruned study's parameters
            "epoch_ratio": round(ratio, 3),
            "wall_ratio": round(full["wall_s"] / run["wall_s"], 3),
            "best_gap_points": None if gap is None else round(gap, 3),
            "meets_goal": ratio >= GOAL_EPOCH_RATIO and gap is not None and gap <= GOAL_BEST_GAP,
        }
    speedup = two["trials_per_min"] / max(full["trials_per_min"], 1e-9)
    span_speedup = full["trials_span_s"] / max(two["trials_span_s"], 1e-9)
    return {
        "date": datetime.now().isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
        },
        "settings": {
            "trials": trials,
            "epochs_per_trial": epochs,
            "threads_per_worker": threads,
            "study": STUDY.format(epochs=epochs),
        },
        "pruning": {
            "none": full,
            **comparisons,
            "goal_epoch_ratio": GOAL_EPOCH_RATIO,
            "goal_best_gap_points": GOAL_BEST_GAP,
        },
        "scaling": {
            "workers_1": full,
            "workers_2": two,
            "speedup": round(speedup, 3),
            "speedup_trials_only": round(span_speedup, 3),  # start-up excluded
            "goal_speedup": GOAL_SPEEDUP,
            "meets_goal": speedup >= GOAL_SPEEDUP,
        },
    }


def print_table(result: dict[str, Any]) -> None:
    p, s = result["pruning"], result["scaling"]
    epochs = result["settings"]["epochs_per_trial"]
    pruners = [k for k in p if isinstance(p[k], dict) and k != "none"]
    rows = [("no pruning, 1 worker", p["none"])]
    rows += [(f"{name}, 1 worker", p[name]) for name in pruners]
    rows += [("no pruning, 2 workers", s["workers_2"])]
    print(
        f"{'run':<22} {'done':>4} {'pruned':>6} {'at end':>6} {'epochs':>7} {'best val':>8} "
        f"{'wall s':>7} {'trials/min':>10} {'cores':>5}"
    )
    for label, r in rows:
        best = "-" if r["best_val_acc"] is None else f"{100 * r['best_val_acc']:.2f}%"
        at_end = sum(t["state"] == "pruned" and t["epochs"] >= epochs for t in r["trials"])
        print(
            f"{label:<22} {r['finished']:>4} {r['pruned']:>6} {at_end:>6} "
            f"{r['epochs_trained']:>7.1f} {best:>8} {r['wall_s']:>7.1f} "
            f"{r['trials_per_min']:>10.2f} {r['cores_busy']:>5.2f}"
        )
    for name in pruners:
        c = p[name]
        gap = "-" if c["best_gap_points"] is None else f"{c['best_gap_points']:.2f}"
        print(
            f"{name}: {c['epoch_ratio']:.2f}x fewer epochs (goal >= {GOAL_EPOCH_RATIO}), "
            f"{c['wall_ratio']:.2f}x less time, best {gap} points below no pruning "
            f"(goal <= {GOAL_BEST_GAP}): {'met' if c['meets_goal'] else 'MISSED'}"
        )
    print(
        f"scaling: {s['speedup']:.2f}x trials/min with 2 workers (goal >= {GOAL_SPEEDUP}; "
        f"{s['speedup_trials_only']:.2f}x without start-up): "
        f"{'met' if s['meets_goal'] else 'MISSED'}; workers' (TOOLKIT_THREADS, "
        f"OMP_NUM_THREADS): {s['workers_2']['worker_env']}"
    )
    m = result["machine"]
    print(f"load average before {m['load_average_before']}, after {m['load_average_after']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16, help="finished trials per study")
    parser.add_argument("--epochs", type=int, default=9, help="epochs of a trial not pruned")
    parser.add_argument(
        "--pruners",
        default="asha,hyperband,median",
        help="pruned studies to run (comma-separated)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--smoke", action="store_true", help="2 trials of 1 epoch, asha only (for CI)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep it")
    args = parser.parse_args()
    trials, epochs = (2, 1) if args.smoke else (args.trials, args.epochs)
    pruners = ["asha"] if args.smoke else [p for p in args.pruners.split(",") if p]
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = benchmark(args.keep.resolve(), trials, epochs, pruners)
    else:
        with tempfile.TemporaryDirectory(prefix="tk-tuning-") as tmp:
            result = benchmark(Path(tmp), trials, epochs, pruners)
    result["smoke"] = args.smoke
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
