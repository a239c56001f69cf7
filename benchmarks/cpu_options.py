"""The CPU itself: torch threads, and ``torch.compile`` (compile time included), for fastnet.

    python benchmarks/cpu_options.py [--width 0.5] [--seconds 20] [--json OUT]
    python benchmarks/cpu_options.py --smoke               # CI: a tiny model, eager only

One training step is exactly ``benchmarks/precision.py``'s (fastnet + linear head, batch 256
of 32x32x3 in channels_last, cross-entropy, SGD-Nesterov) at the precision ``precision = auto``
picks on this CPU. Each option runs in a fresh process (thread pools and compiled code do not
carry over) and trains for ``--seconds`` of wall clock after its first step: *first step*
is the first step's time (for ``compile`` that includes inductor's code generation, which
emits C++ and builds it with the system compiler), *img/s* the rate after it. *Break-even* is
the training time after which compiling has paid for itself against eager on the same
threads: first-step overhead / (1 - eager rate / compiled rate).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

OPTIONS = {  # name -> (threads: 0 = all cores, compile)
    "eager, all cores": (0, False),
    "eager, 1 thread": (1, False),
    "compile, all cores": (0, True),
}


def measure(width: float, threads: int, compiled: bool, seconds: float, batch: int) -> dict:
    """One option in this process: first-step seconds and the steady images per second."""
    import torch
    from torch import nn

    from toolkit.registry import encoders
    from toolkit.train.device import resolve_precision, setup_torch

    cpu = torch.device("cpu")
    autocast = setup_torch(0, cpu, threads=threads, precision="auto")
    encoder = encoders.create("fastnet", in_channels=3, image_size=32, width=width)
    encoder = encoder.to(memory_format=torch.channels_last)
    head = nn.Linear(encoder.out_dim, 10)
    params = [*encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True)
    forward = torch.compile(encoder) if compiled else encoder
    x = torch.randn(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))

    def step() -> None:
        with autocast():
            logits = head(forward(x))
        loss = nn.functional.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    step()  # a second call may still specialise (compile): not timed
    steps, t1 = 0, time.perf_counter()
    while steps < 2 or time.perf_counter() - t1 < seconds:
        step()
        steps += 1
    rate = steps * batch / (time.perf_counter() - t1)
    return {
        "threads": torch.get_num_threads(),
        "precision": resolve_precision("auto", cpu),
        "first_step_s": round(first, 2),
        "images_per_s": round(rate, 1),
        "steady_step_s": round(batch / rate, 4),
    }


def run_option(name: str, width: float, seconds: float, batch: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--one", name, "--width", str(width)]
    cmd += ["--seconds", str(seconds), "--batch", str(batch)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument(
        "--smoke", action="store_true", help="width 0.25, batch 8, 0.2 s; no compile (a minute)"
    )
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=None, help="unused; for the CI runner")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.smoke:
        args.width, args.batch, args.seconds = 0.25, 8, 0.2
    if args.one:  # the child process: one option
        threads, compiled = OPTIONS[args.one]
        print(json.dumps(measure(args.width, threads, compiled, args.seconds, args.batch)))
        return
    results: dict[str, Any] = {}
    for name in OPTIONS:
        if args.smoke and OPTIONS[name][1]:
            continue  # inductor's code generation alone takes a minute on 2 cores
        results[name] = run_option(name, args.width, args.seconds, args.batch)
        print(json.dumps({name: results[name]}), flush=True)
    eager = results["eager, all cores"]
    summary: dict[str, Any] = {
        "width": args.width,
        "batch": args.batch,
        "cpu_count": os.cpu_count(),
        "options": results,
        "threads_speedup": round(
            eager["images_per_s"] / results["eager, 1 thread"]["images_per_s"], 3
        ),
    }
    compiled = results.get("compile, all cores")
    if compiled is not None:
        gain = 1 - eager["images_per_s"] / compiled["images_per_s"]
        overhead = compiled["first_step_s"] - eager["first_step_s"]
        summary |= {
            "compile_speedup": round(compiled["images_per_s"] / eager["images_per_s"], 3),
            "compile_overhead_s": round(overhead, 1),
            # Training seconds after which compiling has paid for itself (None: never).
            "compile_break_even_s": round(overhead / gain, 1) if gain > 0 else None,
        }
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
