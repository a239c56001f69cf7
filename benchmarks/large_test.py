"""Large competitions: 300,000 test images loaded, predicted and submitted in bounded memory.

    python benchmarks/large_test.py [--root DIR] [--test 300000] [--compare 30000]
                                    [--encoder pixels] [--json OUT] [--smoke]

Writes (or reuses) Kaggle-layout competitions under ``--root`` with ``--train`` small training
images and ``--test`` (and ``--compare``) tiny test images (16x16 RGB PNGs), then runs the
three steps of a session, each in its own process as ``tk`` would run them:

1. ``load``: first load of the folder (decoding on every core) and the memory-mapped cache;
2. ``train``: a quick model (``pixels`` + linear probe by default), which also predicts the
   whole test set for its ``test_probs.npy``;
3. ``submit``: what ``tk submit --run ID`` does (:func:`toolkit.submit.make_submission`):
   predict all test images from the memory-mapped cache, write the validated CSV.

For each step: wall time, the peak resident memory of the process (``ru_maxrss``; it would
also count pages of the memory-mapped cache left mapped after reading them), its peak private
memory (``RssAnon``, sampled every 10 ms) and, for the load, the largest decoding worker (its
RSS includes the pages it shares copy-on-write with the process that forked it, so it does not
add up with the parent's). Two test-set sizes (``--compare`` and ``--test``) show how much each
peak grows per extra test image, next to what one decoded image and its float64 probabilities
take.
``--smoke``: 3,000 test images and no second size, for CI.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _synthetic import Spec, ensure_competition

CLASSES = 10
STAGES = ("load", "train", "submit")


class MemorySampler:
    """Peak VmRSS and RssAnon of this process, read from /proc every ``interval`` seconds."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.peak_rss_kb = 0
        self.peak_anon_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        try:
            with open("/proc/self/status", encoding="ascii") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:  # not Linux: ru_maxrss only
            return
        self.peak_rss_kb = max(self.peak_rss_kb, int(fields.get("VmRSS", "0 kB").split()[0]))
        self.peak_anon_kb = max(self.peak_anon_kb, int(fields.get("RssAnon", "0 kB").split()[0]))


# --- the three steps, each run in a child process ------------------------------------------


def stage_load(args: argparse.Namespace) -> dict[str, Any]:
    from toolkit.data import cache_root, load_competition

    entries = cache_root() / "competitions"
    found = list(entries.glob("*/meta.json")) if entries.is_dir() else []
    assert not found, "the first load found a cache entry"
    comp = load_competition(args.competition)
    return {"test_images": len(comp.x_test), "decoded_test_mb": comp.x_test.nbytes / 2**20}


def stage_train(args: argparse.Namespace) -> dict[str, Any]:
    from toolkit.data import load_competition
    from toolkit.train import TrainConfig, train

    start = time.perf_counter()
    comp = load_competition(args.competition)
    cached_s = time.perf_counter() - start
    if args.encoder == "pixels":
        cfg = TrainConfig(
            encoder="pixels", loss="softmax-ce", head="linear-probe", head_epochs=20, device="cpu"
        )
    else:
        cfg = TrainConfig(encoder=args.encoder, head="finetune", budget=args.budget, device="cpu")
    result = train(cfg, comp, quiet=True)
    return {
        "cached_load_s": cached_s,
        "run": str(result.path),
        "val_acc": result.metrics["val_acc"],
    }


def stage_submit(args: argparse.Namespace) -> dict[str, Any]:
    from toolkit.submit import make_submission

    made = make_submission([args.run], args.competition, name="bench", device="cpu")
    return {
        "csv": str(made.csv_path),
        "rows": made.provenance["csv"]["rows"],
        "local_test_score": made.provenance["local_test_score"],
    }


def run_stage(args: argparse.Namespace) -> None:
    """Child process: one step, then one JSON line on stdout with its time and memory."""
    work = {"load": stage_load, "train": stage_train, "submit": stage_submit}[args.stage]
    if args.stage != "load":  # imports before the clock: torch alone takes seconds
        import toolkit.submit
        import toolkit.train  # noqa: F401
    with MemorySampler() as mem:
        start = time.perf_counter()
        out = work(args)
        seconds = time.perf_counter() - start
    kb = 1024  # ru_maxrss is in KiB on Linux
    out |= {
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kb,
        "peak_anon_mb": mem.peak_anon_kb / kb,
    }
    if args.stage == "load":  # the decoding workers (later steps' children are only git)
        # A forked worker's RSS counts the pages it shares copy-on-write with this process.
        out["peak_worker_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / kb
    print(json.dumps(out))


# --- the driver -----------------------------------------------------------------------------


def session(root: Path, scratch: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The three steps on one competition, with their own cache, runs and submissions."""
    env = os.environ | {
        "TOOLKIT_CACHE": str(scratch / "cache"),
        "TOOLKIT_RUNS": str(scratch / "runs"),
        "TOOLKIT_SUBMISSIONS": str(scratch / "submissions"),
    }
    common = [sys.executable, __file__, "--competition", str(root)]
    common += ["--encoder", args.encoder, "--budget", str(args.budget)]
    steps: dict[str, dict[str, Any]] = {}
    run = ""
    for stage in STAGES:
        cmd = [*common, "--stage", stage] + (["--run", run] if run else [])
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"step {stage} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        steps[stage] = json.loads(done.stdout.strip().splitlines()[-1])
        run = steps[stage].get("run", run)
    csv_path = Path(steps["submit"]["csv"])
    with csv_path.open(encoding="utf-8") as f:
        steps["submit"]["csv_rows"] = sum(1 for _ in f) - 1  # minus the header
    steps["submit"]["csv_valid"] = _validate(csv_path, root, scratch / "cache")
    steps["load"]["cache_mb"] = (
        sum(p.stat().st_size for p in (scratch / "cache").rglob("*.npy")) / 2**20
    )
    return steps


def _validate(csv_path: Path, root: Path, cache: Path) -> bool:
    """``tk submit validate``, independently of the code that wrote the file."""
    from toolkit.data import load_competition
    from toolkit.submit import validate_submission

    comp = load_competition(root, cache_dir=cache / "competitions")
    validate_submission(csv_path, comp)  # raises on any broken rule
    return True


def slopes(small: dict[str, Any], big: dict[str, Any], n_small: int, n_big: int) -> dict[str, Any]:
    """Bytes of peak memory per extra test image, per step and measure."""
    out: dict[str, Any] = {}
    for stage in STAGES:
        for key in ("peak_rss_mb", "peak_anon_mb"):
            grow = (big["steps"][stage][key] - small["steps"][stage][key]) * 2**20
            out[f"{stage}_{key.removesuffix('_mb')}_bytes_per_image"] = round(
                grow / (n_big - n_small)
            )
    return out


def report(result: dict[str, Any]) -> None:
    for size in result["sizes"]:
        print(f"\n{size['test']:,} test images ({size['root']})")
        print(f"{'step':<8}{'seconds':>9}{'peak RSS MB':>13}{'peak private MB':>17}")
        for stage in STAGES:
            s = size["steps"][stage]
            print(
                f"{stage:<8}{s['seconds']:>9.1f}{s['peak_rss_mb']:>13.0f}{s['peak_anon_mb']:>17.0f}"
            )
        worker = size["steps"]["load"]["peak_worker_rss_mb"]
        print(f"largest decoding worker: {worker:.0f} MB RSS (shared pages included)")
        sub = size["steps"]["submit"]
        print(
            f"CSV: {sub['csv_rows']:,} rows, valid: {sub['csv_valid']}, "
            f"local test accuracy {sub['local_test_score']}"
        )
    if "growth" in result:
        g = result["growth"]
        print(
            f"\npeak memory growth per extra test image (one decoded image + float64 "
            f"probabilities = {result['bytes_per_image_reference']} bytes):"
        )
        for stage in STAGES:
            print(
                f"  {stage:<7} RSS {g[f'{stage}_peak_rss_bytes_per_image']:>6} B, "
                f"private {g[f'{stage}_peak_anon_bytes_per_image']:>6} B"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="folder for the competitions")
    parser.add_argument("--train", type=int, default=2_000, help="training images")
    parser.add_argument("--test", type=int, default=300_000, help="test images")
    parser.add_argument("--compare", type=int, default=30_000, help="smaller test set; 0 = none")
    parser.add_argument("--size", type=int, default=16, help="image side in pixels")
    parser.add_argument("--encoder", default="pixels", help="pixels (linear probe) or a CNN")
    parser.add_argument("--budget", type=float, default=10.0, help="CNN training seconds")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="3,000 test images, for CI")
    # internal: one step in a child process
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--competition", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        run_stage(args)
        return
    if args.smoke:
        args.train, args.test, args.compare = 500, 3_000, 0
    base = args.root or Path(tempfile.gettempdir()) / f"tk-bench-large-{args.size}"
    sizes = [n for n in (args.compare, args.test) if n > 0]
    result: dict[str, Any] = {
        "train": args.train,
        "image": [3, args.size, args.size],
        "encoder": args.encoder,
        "cores": os.cpu_count(),
        "sizes": [],
    }
    for n in sizes:
        spec = Spec(n_train=args.train, n_test=n, size=args.size, ext="png", classes=CLASSES)
        root, reused, gen_s = ensure_competition(base / f"test-{n}", spec)
        scratch = Path(tempfile.mkdtemp(prefix="tk-bench-large-"))
        try:
            steps = session(root, scratch, args)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        entry = {"test": n, "root": str(root), "reused": reused, "generate_s": round(gen_s, 1)}
        result["sizes"].append(entry | {"steps": steps})
    result["bytes_per_image_reference"] = 3 * args.size**2 + 8 * CLASSES
    if len(sizes) == 2:
        result["growth"] = slopes(result["sizes"][0], result["sizes"][1], sizes[0], sizes[1])
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
