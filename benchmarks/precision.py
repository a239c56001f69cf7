"""Training speed of fastnet in fp32 and bf16 autocast on this CPU, at several widths.

    python benchmarks/precision.py [--widths 0.5,1.0] [--steps 6] [--json OUT]
    python benchmarks/precision.py --smoke                       # CI: 1 step, tiny batch

One training step = forward, cross-entropy, backward and an SGD-Nesterov step of fastnet +
a linear head on a batch of 256 random 32x32x3 images in channels_last, exactly as
``tk train`` steps (``toolkit.train.device.setup_torch`` makes the autocast context). Each
setting is timed over ``--steps`` steps after 2 warm-up steps, on all cores. The JSON also
says whether this CPU computes bf16 natively (``precision = auto`` uses bf16 only then: where
bf16 is emulated it is slower than fp32).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from toolkit.registry import encoders
from toolkit.train.device import native_bf16, resolve_precision, setup_torch


def images_per_second(width: float, precision: str, steps: int, batch: int) -> float:
    cpu = torch.device("cpu")
    autocast = setup_torch(0, cpu, precision=precision)
    encoder = encoders.create("fastnet", in_channels=3, image_size=32, width=width)
    encoder = encoder.to(memory_format=torch.channels_last)
    head = nn.Linear(encoder.out_dim, 10)
    params = [*encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))

    def step() -> None:
        with autocast():
            logits = head(encoder(x))
        loss = nn.functional.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="0.5,1.0")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--smoke", action="store_true", help="1 step of 16 images (CI)")
    parser.add_argument("--root", type=Path, default=None, help="unused; for the CI runner")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    widths = [0.25] if args.smoke else [float(w) for w in args.widths.split(",")]
    steps, batch = (1, 16) if args.smoke else (args.steps, 256)
    rates: dict[str, dict[str, float]] = {}
    for width in widths:
        rates[f"{width:g}"] = {
            p: round(images_per_second(width, p, steps, batch), 1) for p in ("fp32", "bf16")
        }
        print(json.dumps({"width": width, **rates[f"{width:g}"]}), flush=True)
    result: dict[str, Any] = {
        "threads": torch.get_num_threads(),
        "cpu_native_bf16": native_bf16(),
        "auto_picks": resolve_precision("auto", torch.device("cpu")),
        "images_per_s": rates,
        "bf16_speedup": {w: round(r["bf16"] / r["fp32"], 2) for w, r in rates.items()},
    }
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
