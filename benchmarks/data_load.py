"""Loading a JPEG competition: first load on every core vs one, then from the cache.

    python benchmarks/data_load.py [--root DIR] [--train 60000] [--json OUT] [--smoke]

Writes (or reuses) a Kaggle-layout competition of ``--train`` 32x32 RGB JPEGs (quality 75,
10 classes) plus ``--test`` test images under ``--root``, then times ``load_competition``:

1. first load, no cache, decoding on every core (the default);
2. first load, no cache, one decoding process (``workers=1``; ``tk data check --workers 1``),
   giving the speed-up ``t_one / t_all``;
3. second load, from the cache that (1) wrote: memory-mapped arrays (goal: at most 2 s).

Each first load gets a fresh, empty cache folder (all removed at the end) and runs ``--repeat``
times; the fastest counts. The image files are in the OS page cache for every load (they were
just written or read), so first-load times are decoding, not disk reads. ``--smoke``: 600
images, each load once, a few seconds, for CI.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _synthetic import Spec, ensure_competition

CACHED_GOAL_S = 2.0  # issue 5: a second load of a 60,000-image competition within 2 s


def warm_up() -> None:
    """Import what a load imports lazily (pandas, Pillow's codecs), so no timing pays for it."""
    import pandas  # noqa: F401
    from PIL import Image

    Image.init()


def timed_load(root: Path, cache: Path, workers: int | None) -> tuple[float, Any]:
    """Seconds for one ``load_competition`` call, and the competition it returned."""
    from toolkit.data import load_competition

    gc.collect()  # the previous load's arrays are gone before the clock starts
    start = time.perf_counter()
    comp = load_competition(root, cache_dir=cache, workers=workers)
    return time.perf_counter() - start, comp


def cold_loads(root: Path, scratch: Path, workers: int | None, repeat: int) -> list[float]:
    """Seconds of ``repeat`` first loads, each into a new empty cache folder."""
    times = []
    for i in range(repeat):
        seconds, comp = timed_load(root, scratch / f"cold-{workers or 'all'}-{i}", workers)
        times.append(seconds)
        del comp
    return times


def measure(root: Path, scratch: Path, repeat: int) -> dict[str, Any]:
    """The three loads of ``root``, with cache folders under ``scratch``; each first load is
    repeated ``repeat`` times and the fastest counts (the others saw more noise)."""
    warm_up()
    cores = os.cpu_count() or 1
    all_cores = cold_loads(root, scratch, None, repeat)
    one_worker = cold_loads(root, scratch, 1, repeat)
    t_all, t_one = min(all_cores), min(one_worker)
    t_cached, comp = timed_load(root, scratch / "cold-all-0", None)  # its second load
    _, other = timed_load(root, scratch / "cold-1-0", None)  # what one worker decoded
    same = bool(
        np.array_equal(comp.x_train, other.x_train) and np.array_equal(comp.x_test, other.x_test)
    )
    del other
    n = len(comp.x_train) + len(comp.x_test)
    entry = scratch / "cold-all-0" / comp.fingerprint
    return {
        "images": n,
        "shape": list(comp.x_train.shape[1:]),
        "cores": cores,
        "repeat": repeat,
        "cold_all_cores_runs_s": [round(t, 3) for t in all_cores],
        "cold_one_worker_runs_s": [round(t, 3) for t in one_worker],
        "cold_all_cores_s": round(t_all, 3),
        "cold_one_worker_s": round(t_one, 3),
        "speedup": round(t_one / t_all, 3),
        "cached_s": round(t_cached, 3),
        "cached_goal_s": CACHED_GOAL_S,
        "cached_within_goal": t_cached <= CACHED_GOAL_S,
        "cached_is_memmap": isinstance(comp.x_train, np.memmap),
        "same_arrays": same,
        "images_per_s_all_cores": round(n / t_all),
        "images_per_s_one_worker": round(n / t_one),
        "cache_mb": round(sum(p.stat().st_size for p in entry.iterdir()) / 2**20, 1),
    }


def report(result: dict[str, Any]) -> None:
    rows = [
        (f"first load, {result['cores']} cores", result["cold_all_cores_s"]),
        ("first load, 1 worker", result["cold_one_worker_s"]),
        ("second load (cache)", result["cached_s"]),
    ]
    print(f"{result['images']:,} images {result['shape']} at {result['root']}")
    print(f"{'load':<24}{'seconds':>9}{'images/s':>11}")
    for name, seconds in rows:
        print(f"{name:<24}{seconds:>9.2f}{result['images'] / seconds:>11,.0f}")
    goal = "within" if result["cached_within_goal"] else "OVER"
    print(f"speed-up (1 worker / all cores): {result['speedup']:.2f}x on {result['cores']} cores")
    print(f"cached load: {goal} the {result['cached_goal_s']:.0f} s goal")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="competition folder (reused)")
    parser.add_argument("--train", type=int, default=60_000, help="training images")
    parser.add_argument("--test", type=int, default=1_000, help="test images")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--repeat", type=int, default=2, help="first loads of each kind")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="600 images, once, for CI")
    args = parser.parse_args()
    if args.smoke:
        args.train, args.test, args.repeat = 500, 100, 1
    spec = Spec(n_train=args.train, n_test=args.test, size=args.size, ext="jpg", quality=75)
    default_root = Path(tempfile.gettempdir()) / f"tk-bench-data-{args.train}-{args.size}"
    root, reused, gen_s = ensure_competition(args.root or default_root, spec)
    scratch = Path(tempfile.mkdtemp(prefix="tk-bench-cache-"))
    try:
        result = {"root": str(root), "reused": reused, "generate_s": round(gen_s, 2)}
        result |= {"train": args.train, "test": args.test} | measure(root, scratch, args.repeat)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
