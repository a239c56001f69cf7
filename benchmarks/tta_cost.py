"""What test-time augmentation costs: prediction time with 1, 2 and 3 views of each image.

    python benchmarks/tta_cost.py [--images 10000] [--size 32] [--width 0.5] [--json OUT]
    python benchmarks/tta_cost.py --smoke                     # CI: 512 images

Times the prediction path ``tk submit`` uses (:meth:`toolkit.train.model.LoadedModel.
predict_probs`: the views of a batch stacked along the batch, one forward pass, features
averaged) for a fastnet fine-tune on random uint8 images: no TTA, flips (2 views), flips and a
1-px shift (3 views). The weights do not matter for the time, so none are trained. Each is
timed on its second call (the first warms the kernels up), in this process, with the
precision ``precision = auto`` picks on this machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from toolkit.registry import encoders, heads, losses
from toolkit.train.batches import Normalizer
from toolkit.train.device import resolve_precision, setup_torch
from toolkit.train.final import predict_probs
from toolkit.train.tta import TTA

CASES: dict[str, TTA | None] = {
    "none": None,
    "flip": TTA(flip=True, shift=0),
    "flip+shift": TTA(flip=True, shift=1),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--smoke", action="store_true", help="512 images (CI)")
    parser.add_argument("--root", type=Path, default=None, help="unused; for the CI runner")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    n = 512 if args.smoke else args.images
    cpu = torch.device("cpu")
    autocast = setup_torch(0, cpu)
    encoder = encoders.create("fastnet", in_channels=3, image_size=args.size, width=args.width)
    encoder = encoder.to(memory_format=torch.channels_last).eval()
    head = heads.create("finetune", in_features=encoder.out_dim, num_classes=10).eval()
    loss = losses.create("softmax-ce", num_classes=10)
    norm = Normalizer(torch.full((3,), 0.5), torch.full((3,), 0.25))
    x = torch.randint(0, 256, (n, 3, args.size, args.size), dtype=torch.uint8)

    def predict(tta: TTA | None) -> float:
        t0 = time.perf_counter()
        predict_probs(encoder, head, loss, norm, x, device=cpu, tta=tta, autocast=autocast)
        return time.perf_counter() - t0

    seconds: dict[str, float] = {}
    for name, tta in CASES.items():
        predict(tta)  # warm-up
        seconds[name] = round(predict(tta), 3)
    result: dict[str, Any] = {
        "images": n,
        "size": args.size,
        "width": args.width,
        "threads": torch.get_num_threads(),
        "precision": resolve_precision("auto", cpu),
        "seconds": seconds,
        "cost_vs_none": {k: round(v / max(seconds["none"], 1e-9), 2) for k, v in seconds.items()},
    }
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
