"""Training throughput: our loop against the reference loop, and against the machine's peak.

    python benchmarks/throughput.py COMPETITION [--seconds 90] [--json OUT]
    python benchmarks/throughput.py --smoke --root DIR          # CI: a tiny generated set

In one run, on one machine, each for the same wall-clock seconds (fresh processes, data loading
and start-up included):

- ``reference``: ``benchmarks/reference_loop.py`` (per-sample PIL transforms, DataLoader with
  one worker per core, convnet4, Adam, batch 256);
- ``ours convnet4``: ``tk train --encoder convnet4`` with the same augmentation (crop pad 4,
  flip), optimiser and batch;
- ``ours fastnet``: ``tk train`` with the ``fastnet-finetune`` recipe.

Two rates per entry: *wall* = images trained / whole process time (start-up, data loading and
evaluations included), and *loop* = images / time in training steps (batch gathering and
augmentation included, evaluation excluded; for the reference, its training loop with the
time it waits on its DataLoader, and ``compute`` without those waits).

The FLOP rate: convnet4's training cost per image is counted with
``torch.utils.flop_counter.FlopCounterMode`` (forward + backward, 2 FLOPs per multiply-add),
and the fp32 peak is measured, not looked up: the best rate of large square fp32 matrix
products (``torch.mm``, n = 2048) on all cores.
"""

from __future__ import annotations

import argparse
import csv
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


def measured_peak_gflops(threads: int, seconds: float = 3.0, n: int = 2048) -> float:
    """Best fp32 GFLOP/s of ``torch.mm`` on n x n matrices over ``seconds`` (after warm-up)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)  # warm-up
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        torch.mm(a, b, out=out)
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def train_flops_per_image(encoder: str, size: int = 32, classes: int = 10) -> float:
    """FLOPs of one training step (forward + backward) per image, counted by torch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from toolkit.registry import encoders, heads

    enc = encoders.create(encoder, in_channels=3, image_size=size)
    head = heads.create("finetune", in_features=enc.out_dim, num_classes=classes)
    x, y, batch = torch.randn(16, 3, size, size), torch.randint(0, classes, (16,)), 16
    with FlopCounterMode(display=False) as counter:
        loss = torch.nn.functional.cross_entropy(head(enc(x)), y)
        loss.backward()
    return counter.get_total_flops() / batch


def run_reference(competition: Path, seconds: float, workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ref.json"
        cmd = [sys.executable, str(HERE / "reference_loop.py"), str(competition)]
        cmd += ["--budget", str(seconds), "--workers", str(workers), "--json", str(out)]
        cmd += ["--no-eval"]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        ref = json.loads(out.read_text())
    return {
        "wall_images_per_s": ref["images_per_s"],
        "loop_images_per_s": ref["loop_images_per_s"],
        "compute_images_per_s": ref["compute_images_per_s"],
        "images": ref["images"],
        "wall_s": ref["wall_s"],
    }


def run_ours(competition: Path, seconds: float, args: list[str]) -> dict[str, Any]:
    """``tk train ... --budget`` in a fresh process with a cold data cache."""
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {
            "TOOLKIT_RUNS": str(Path(tmp) / "runs"),
            "TOOLKIT_CACHE": str(Path(tmp) / "cache"),
        }
        cmd = [sys.executable, "-m", "toolkit", "train", str(competition), "--json", "-q"]
        cmd += ["--budget", f"{seconds}s", *args]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        run_dir = Path(json.loads(done.stdout)["path"])
        record = json.loads((run_dir / "run.json").read_text())
        with (run_dir / "metrics.csv").open() as fh:
            rows = list(csv.DictReader(fh))
    images = int(record["images_seen"])
    batch = int(record["config"]["batch_size"])
    # Each metrics row covers the steps since the stage's previous evaluation.
    loop_s, previous = 0.0, dict[str, int]()
    for r in rows:
        steps = int(r["step"]) - previous.get(r["stage"], 0)
        previous[r["stage"]] = int(r["step"])
        loop_s += steps * batch / max(float(r["images_per_s"]), 1e-9)
    return {
        "wall_images_per_s": round(images / wall, 1),
        "loop_images_per_s": round(images / max(loop_s, 1e-9), 1),
        "images": images,
        "wall_s": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("competition", type=Path, nargs="?")
    parser.add_argument("--seconds", type=float, default=90.0, help="wall-clock per entry")
    parser.add_argument("--smoke", action="store_true", help="tiny generated set, 2 s each")
    parser.add_argument("--root", type=Path, default=None, help="where --smoke writes its data")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    threads = int(os.environ.get("TOOLKIT_THREADS", 0)) or os.cpu_count() or 1
    competition, seconds = args.competition, args.seconds
    if args.smoke:
        from _synthetic import Spec, ensure_competition

        root = args.root or Path(tempfile.mkdtemp())
        competition, _, _ = ensure_competition(root / "tiny", Spec(n_train=600, n_test=50))
        seconds = 2.0
    if competition is None:
        parser.error("give a competition folder (or --smoke)")

    flops = train_flops_per_image("convnet4")
    peak = measured_peak_gflops(threads, seconds=1.0 if args.smoke else 3.0)
    same_as_reference = ["--encoder", "convnet4", "--set", "crop_pad=4", "--set", "flip=true"]
    same_as_reference += ["--set", "eval_every=1000000"]  # the reference does not evaluate
    entries = {
        "reference convnet4": run_reference(competition, seconds, workers=threads),
        "ours convnet4": run_ours(competition, seconds, same_as_reference),
        "ours fastnet": run_ours(competition, seconds, ["--recipe", "fastnet-finetune"]),
    }
    ref = entries["reference convnet4"]
    ours = entries["ours convnet4"]
    result: dict[str, Any] = {
        "threads": threads,
        "seconds_each": seconds,
        "entries": entries,
        "speedup_wall_convnet4": round(ours["wall_images_per_s"] / ref["wall_images_per_s"], 2),
        "speedup_loop_convnet4": round(ours["loop_images_per_s"] / ref["loop_images_per_s"], 2),
        "convnet4_train_mflop_per_image": round(flops / 1e6, 1),
        "measured_fp32_peak_gflops": round(peak, 1),
        "convnet4_gflops_loop": round(ours["loop_images_per_s"] * flops / 1e9, 1),
    }
    result["convnet4_share_of_peak"] = round(result["convnet4_gflops_loop"] / peak, 3)
    print(f"{'entry':<20} {'wall img/s':>11} {'loop img/s':>11} {'images':>8}")
    for name, e in entries.items():
        print(
            f"{name:<20} {e['wall_images_per_s']:>11} {e['loop_images_per_s']:>11} "
            f"{e['images']:>8}"
        )
    print(json.dumps({k: v for k, v in result.items() if k != "entries"}))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
