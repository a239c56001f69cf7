"""GPU check and epoch timing: CUDA against CPU on a small batch, then one timed epoch.

    bash benchmarks/gpu.sh                       # on a CUDA machine; installs nothing heavy
    python benchmarks/gpu.py [--images 50000] [--compile] [--json OUT]
    python benchmarks/gpu.py --smoke --device cpu # CI: the same code on a few CPU images

1. Correctness: ``convnet4`` and ``fastnet`` (+ finetune head) run forward and backward on the
   same 32 images on the CPU and on CUDA in fp32 (TF32 off); logits and gradients must agree
   to 1e-3 relative. Then the same under bf16 autocast must stay within 5e-2 of fp32.
2. Timing: ``--images`` generated 32x32 RGB uint8 images live on the device; one epoch of the
   toolkit's own training step (``toolkit.train`` batches, augmentation, SGD-Nesterov, bf16
   autocast, channels_last, optionally ``torch.compile``) is timed after a warm-up epoch, for
   each encoder. Reported: seconds per epoch, images/s, the FLOPs per training image (counted
   by torch), and the epoch time the card's dense bf16 peak would allow (``--peak-tflops``,
   990 for an H100 SXM), so the gap to the hardware floor is visible.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

ENCODERS = {"convnet4": {}, "fastnet": {"width": 1.0}}
# bf16 keeps 8 bits of mantissa: logits within 5%, the worst gradient tensor within 30%
# (small gradients of BatchNorm parameters are the noisiest) of the fp32 CPU reference.
BF16_LOGITS_TOL = 0.05
BF16_GRADS_TOL = 0.3


def build(encoder: str, device: torch.device, seed: int = 0) -> torch.nn.Module:
    from toolkit.registry import encoders, heads

    torch.manual_seed(seed)
    enc = encoders.create(encoder, in_channels=3, image_size=32, **ENCODERS[encoder])
    head = heads.create("finetune", in_features=enc.out_dim, num_classes=10)
    return torch.nn.Sequential(enc, head).to(device, memory_format=torch.channels_last)


def forward_backward(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(x)
    F.cross_entropy(logits.float(), y).backward()
    return logits.detach().float().cpu(), [
        p.grad.detach().float().cpu() for p in model.parameters()
    ]


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def check_correctness(device: torch.device, n: int = 32) -> dict[str, Any]:
    """Relative errors of logits and gradients: fp32 on the device vs the CPU, and bf16
    autocast on the device vs fp32 on the CPU (gradients: the worst parameter tensor)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 32, 32, generator=gen).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (n,), generator=gen)
    out: dict[str, Any] = {}
    for name in ENCODERS:
        cpu_model, dev_model = build(name, torch.device("cpu")), build(name, device)
        for model in (cpu_model, dev_model):
            model.eval()  # BatchNorm in eval mode: no running-stat updates between the passes
        ref_logits, ref_grads = forward_backward(cpu_model, x, y, bf16=False)
        row: dict[str, Any] = {}
        for label, bf16 in (("fp32", False), ("bf16", True)):
            logits, grads = forward_backward(dev_model, x.to(device), y.to(device), bf16=bf16)
            row[f"{label}_logits_rel_err"] = rel_err(logits, ref_logits)
            row[f"{label}_grads_rel_err"] = max(
                rel_err(g, r) for g, r in zip(grads, ref_grads, strict=True)
            )
        row["ok"] = (
            row["fp32_logits_rel_err"] < 1e-3
            and row["fp32_grads_rel_err"] < 1e-3
            and row["bf16_logits_rel_err"] < BF16_LOGITS_TOL
            and row["bf16_grads_rel_err"] < BF16_GRADS_TOL
        )
        out[name] = row
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    return out


def flops_per_image(encoder: str) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    model = build(encoder, torch.device("cpu"))
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / 8


def time_epoch(
    encoder: str, device: torch.device, images: int, batch: int, compile_model: bool
) -> dict[str, Any]:
    """Seconds for one epoch of the toolkit's batched training step (after a warm-up epoch)."""
    from toolkit.train.batches import Normalizer, augment, shuffled_batches

    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (images, 3, 32, 32), dtype=torch.uint8, generator=gen).to(device)
    y = torch.randint(0, 10, (images,), generator=gen).to(device)
    norm = Normalizer.fit(x)
    model = build(encoder, device)
    step_model = torch.compile(model) if compile_model else model
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    bf16 = device.type == "cuda"

    def epoch() -> None:
        for idx in shuffled_batches(images, batch, gen):
            idx = idx.to(device)
            xb = augment(norm(x[idx]), 2, True, gen)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(step_model(xb).float(), y[idx], label_smoothing=0.2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    t = time.perf_counter()
    epoch()  # warm-up (cuDNN autotuning, compilation)
    sync()
    warmup_s = time.perf_counter() - t
    t = time.perf_counter()
    epoch()
    sync()
    seconds = time.perf_counter() - t
    trained = images - images % batch if images > batch else images
    return {
        "epoch_s": round(seconds, 3),
        "images_per_s": round(trained / seconds, 1),
        "warmup_epoch_s": round(warmup_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--peak-tflops", type=float, default=990.0, help="dense bf16 peak")
    parser.add_argument("--smoke", action="store_true", help="a few images (CI, on the CPU)")
    parser.add_argument("--root", type=Path, default=None, help="unused; for the CI runner")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("CUDA is not available here; run on a GPU machine or pass --device cpu.")
    device = torch.device(args.device)
    images = 64 if args.smoke else args.images
    batch = 32 if args.smoke else args.batch
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "images": images,
        "batch": batch,
        "correctness": check_correctness(device, n=8 if args.smoke else 32),
        "timing": {},
    }
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    for name in ENCODERS:
        flops = flops_per_image(name)
        modes = [False, True] if args.compile else [False]
        for compiled in modes:
            key = f"{name}{' compiled' if compiled else ''}"
            timing = time_epoch(name, device, images, batch, compiled)
            floor = flops * images / (args.peak_tflops * 1e12)
            timing.update(
                train_gflop_per_image=round(flops / 1e9, 3),
                floor_epoch_s=round(floor, 4),
                share_of_peak=round(floor / timing["epoch_s"], 4),
            )
            result["timing"][key] = timing
            print(json.dumps({key: timing}), flush=True)
    print(json.dumps(result["correctness"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if not all(c["ok"] for c in result["correctness"].values()):
        raise SystemExit("CUDA results differ from the CPU's beyond tolerance (see above).")


if __name__ == "__main__":
    main()
