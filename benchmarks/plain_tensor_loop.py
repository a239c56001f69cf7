"""The bar to beat: a strong student's hand-written tensor loop for a CIFAR-style competition.

All images are decoded once with PIL into a uint8 tensor (no DataLoader), then a ResNet-9-lite
(airbench / DAWNBench style) trains on all of train.csv with SGD + Nesterov, label smoothing,
tensor augmentation (reflect-pad-4 random crop, horizontal flip) and a one-cycle learning rate
driven by the clock, so training ends when the budget (loading included) is spent, less a
reserve for the flip-TTA prediction of the test set. No toolkit code at all.

    python benchmarks/plain_tensor_loop.py COMPETITION --budget 600 [--json OUT] [--threads N]
    python benchmarks/plain_tensor_loop.py --smoke [--root DIR] [--json OUT]   # CI: 4 s, digits

Writes submission.csv next to the JSON (or into the current folder) and scores it on
test_labels.csv when the competition has that answer key.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

EXTS = (".png", ".jpg", ".jpeg", ".bmp")
BATCH, PEAK_LR, WARMUP, SMOOTHING = 256, 0.4, 0.2, 0.2


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def read_images(folder: Path, ids: list[str], size: tuple[int, int] | None) -> torch.Tensor:
    """The images of ``ids`` as uint8 (N, 3, H, W), resized to ``size`` (default: the first's)."""
    files = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in EXTS}
    out: np.ndarray | None = None
    for i, name in enumerate(ids):
        image = Image.open(files[name]).convert("RGB")
        size = size or image.size
        if image.size != size:
            image = image.resize(size, Image.BILINEAR)
        if out is None:
            out = np.empty((len(ids), size[1], size[0], 3), np.uint8)
        out[i] = np.asarray(image)
    assert out is not None, f"no images in {folder}"
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class Residual(nn.Sequential):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


def stage(c_in: int, c_out: int, residual: bool) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.MaxPool2d(2)]
    layers += [nn.BatchNorm2d(c_out), nn.ReLU()]
    if residual:
        layers.append(Residual(*conv_bn(c_out, c_out), *conv_bn(c_out, c_out)))
    return nn.Sequential(*layers)


class ResNet9Lite(nn.Module):
    """Stem 32w, stages 64w (+res), 128w, 256w (+res), global max pool, logits * 0.125."""

    def __init__(self, classes: int, width: float) -> None:
        super().__init__()
        c0, c1, c2, c3 = (max(8, round(c * width)) for c in (32, 64, 128, 256))
        self.body = nn.Sequential(
            *conv_bn(3, c0), stage(c0, c1, True), stage(c1, c2, False), stage(c2, c3, True)
        )
        self.head = nn.Linear(c3, classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.amax(self.body(x), dim=(2, 3))) * 0.125


def augment(x: torch.Tensor) -> torch.Tensor:
    """Per-sample random crop of the reflect-padded batch, then random horizontal flip."""
    b, c, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4), mode="reflect")
    dy, dx = torch.randint(0, 9, (2, b, 1))
    rows = (dy + torch.arange(h))[:, None, :, None]  # (B, 1, H, 1)
    cols = (dx + torch.arange(w))[:, None, None, :]  # (B, 1, 1, W)
    crops = padded[
        torch.arange(b)[:, None, None, None], torch.arange(c)[:, None, None], rows, cols
    ]
    flip = torch.rand(b, 1, 1, 1) < 0.5
    return torch.where(flip, crops.flip(3), crops)


def batches(n: int, size: int) -> Iterator[torch.Tensor]:
    """Shuffled index batches forever, the last partial batch of each epoch dropped."""
    while True:
        perm = torch.randperm(n)
        for start in range(0, max(n - size, 0) + 1, size):
            yield perm[start : start + size]


def make_digits(root: Path, n_train: int = 300, n_test: int = 100) -> Path:
    """scikit-learn's digits as a tiny Kaggle-layout competition of 16x16 RGB PNGs."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.rint(digits.images * (255 / 16)).astype(np.uint8).repeat(2, 1).repeat(2, 2)
    rows = {"train": range(n_train), "test": range(n_train, n_train + n_test)}
    for split, idx in rows.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        for i in idx:
            Image.fromarray(np.stack([pixels[i]] * 3, -1)).save(root / split / f"{i}.png")
    tables = {"train.csv": "train", "test_labels.csv": "test", "sample_submission.csv": None}
    for name, split in tables.items():
        idx = rows[split or "test"]
        lines = [f"{i},{digits.target[i] if split else 0}" for i in idx]
        (root / name).write_text("\n".join(["id,label", *lines]) + "\n", encoding="utf-8")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("competition", type=Path, nargs="?")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds, loading included")
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    parser.add_argument("--width", type=float, default=0.5, help="channel multiplier")
    parser.add_argument("--smoke", action="store_true", help="tiny digits set, 4 s budget (CI)")
    parser.add_argument("--root", type=Path, default=None, help="where --smoke writes its data")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    t0 = time.perf_counter()
    threads = args.threads or int(os.environ.get("TOOLKIT_THREADS") or os.cpu_count() or 1)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    competition, budget = args.competition, args.budget
    if args.smoke:
        budget = 4.0
        if competition is None:
            competition = make_digits((args.root or Path(tempfile.mkdtemp())) / "digits")
            t0 = time.perf_counter()  # building the set is not the student's time
    if competition is None:
        parser.error("give a competition folder (or --smoke)")

    train_rows = read_rows(competition / "train.csv")[1:]
    sample = read_rows(competition / "sample_submission.csv")
    classes = sorted({r[1] for r in train_rows})
    train_x = read_images(competition / "train", [r[0] for r in train_rows], None)
    train_y = torch.tensor([classes.index(r[1]) for r in train_rows])
    test_ids = [r[0] for r in sample[1:]]
    test_x = read_images(competition / "test", test_ids, (train_x.shape[3], train_x.shape[2]))
    stats = [(train_x[:, c].float().mean(), train_x[:, c].float().std()) for c in range(3)]
    mean = torch.tensor([m for m, _ in stats]).view(1, 3, 1, 1)
    std = torch.tensor([s for _, s in stats]).view(1, 3, 1, 1)
    load_s = time.perf_counter() - t0

    def normalise(x: torch.Tensor) -> torch.Tensor:
        return ((x.float() - mean) / std).contiguous(memory_format=torch.channels_last)

    model = ResNet9Lite(len(classes), args.width).to(memory_format=torch.channels_last)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0}]
    optimizer = torch.optim.SGD(groups, lr=0.0, momentum=0.9, nesterov=True)

    # Reserve time for the prediction (2 forwards per test image), from a timed forward pass.
    model.eval()
    probe = normalise(test_x[:BATCH] if len(test_x) else train_x[:BATCH])
    with torch.inference_mode():
        model(probe)  # warm-up
        t_probe = time.perf_counter()
        model(probe)
        per_image = (time.perf_counter() - t_probe) / len(probe)
    reserve = max(0.05 * budget, 1.25 * 2 * len(test_x) * per_image)
    train_s = max(budget - (time.perf_counter() - t0) - reserve, 1e-3)

    model.train()
    steps = seen = 0
    t_train = time.perf_counter()
    for idx in batches(len(train_x), BATCH):
        progress = (time.perf_counter() - t_train) / train_s
        if progress >= 1 and steps:
            break
        p = min(progress, 0.999)
        lr = PEAK_LR * (p / WARMUP if p < WARMUP else (1 - p) / (1 - WARMUP))
        for group in optimizer.param_groups:
            group["lr"] = lr
        x = augment(normalise(train_x[idx])).contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model(x), train_y[idx], label_smoothing=SMOOTHING)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        steps, seen = steps + 1, seen + len(idx)
    train_wall = time.perf_counter() - t_train

    t_predict = time.perf_counter()
    model.eval()
    predictions: list[str] = []
    with torch.inference_mode():
        for start in range(0, len(test_x), 2 * BATCH):
            x = normalise(test_x[start : start + 2 * BATCH])
            probs = model(x).softmax(1) + model(x.flip(3)).softmax(1)
            predictions += [classes[i] for i in probs.argmax(1).tolist()]
    out_dir = args.json.parent if args.json else Path.cwd()
    with (out_dir / "submission.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([sample[0][:2], *zip(test_ids, predictions, strict=True)])
    predict_s = time.perf_counter() - t_predict

    test_acc = None
    if (competition / "test_labels.csv").exists():
        answers = dict(r[:2] for r in read_rows(competition / "test_labels.csv")[1:])
        hits = [answers.get(i) == p for i, p in zip(test_ids, predictions, strict=True)]
        test_acc = round(sum(hits) / max(len(hits), 1), 4)
    result = {
        "test_acc": test_acc,
        "epochs": round(seen / len(train_x), 3),
        "steps": steps,
        "images": seen,
        "images_per_s": round(seen / max(train_wall, 1e-9), 1),
        "wall_s": round(time.perf_counter() - t0, 2),
        "load_s": round(load_s, 2),
        "predict_s": round(predict_s, 2),
        "threads": threads,
        "width": args.width,
        "budget_s": budget,
    }
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
