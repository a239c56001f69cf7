"""The reference: a plain PyTorch training loop as a student writes it (the assignment's style).

A torchvision-style Dataset reads the competition's image files one by one, per-sample PIL
transforms (random crop with padding 4, horizontal flip, ToTensor, Normalize), a DataLoader,
the assignment's convnet4, Adam 1e-3, batch 256, cross-entropy. It knows nothing of toolkit
except where the files are (a Kaggle-layout folder: train.csv + train/<id>.<ext>).

    python benchmarks/reference_loop.py COMPETITION --budget 600 [--workers 2] [--json OUT]

Trains until the wall-clock budget (data loading included) is spent, then scores the test set
on the answer key (test_labels.csv) when there is one.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

EXTS = (".png", ".jpg", ".jpeg", ".bmp")


def find_image(folder: Path, stem: str) -> Path:
    for ext in EXTS:
        path = folder / f"{stem}{ext}"
        if path.exists():
            return path
    raise FileNotFoundError(folder / stem)


class CompetitionImages(Dataset):
    """(image, label index) pairs read from disk on every access."""

    def __init__(
        self,
        root: Path,
        csv_name: str,
        folder: str,
        classes: list[str] | None,
        transform: transforms.Compose,
    ) -> None:
        with open(root / csv_name) as fh:
            rows = list(csv.reader(fh))[1:]
        self.classes = classes or sorted({r[1] for r in rows})
        index = {c: i for i, c in enumerate(self.classes)}
        self.items = [(find_image(root / folder, r[0]), index[r[1]]) for r in rows]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path, label = self.items[i]
        return self.transform(Image.open(path).convert("RGB")), label


class ConvNet4(nn.Module):
    """The assignment's CNN, written out as the student did."""

    def __init__(self, num_classes: int, size: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.Conv2d(128, 128, 3, padding=1),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * (size // 4) ** 2, 4096),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("competition", type=Path)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds, data included")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0: none)")
    parser.add_argument("--no-eval", action="store_true", help="skip the test-set score")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    t0 = time.perf_counter()
    torch.manual_seed(0)
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # the usual CIFAR stats
    train_tf = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    test_tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    train_set = CompetitionImages(args.competition, "train.csv", "train", None, train_tf)
    loader = DataLoader(
        train_set,
        batch_size=256,
        shuffle=True,
        num_workers=args.workers,
        drop_last=len(train_set) > 256,  # a set smaller than a batch still trains
        persistent_workers=args.workers > 0,
    )
    model = ConvNet4(len(train_set.classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    steps, images, train_time, done = 0, 0, 0.0, False
    t_loop = time.perf_counter()  # the training loop, DataLoader waits included
    while not done:
        model.train()
        for x, y in loader:
            t_step = time.perf_counter()
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            images += len(y)
            train_time += time.perf_counter() - t_step
            if time.perf_counter() - t0 > args.budget or steps == args.max_steps:
                done = True
                break
        done = done or time.perf_counter() - t0 > args.budget
    wall = time.perf_counter() - t0
    loop_s = time.perf_counter() - t_loop
    result = {
        "steps": steps,
        "images": images,
        "wall_s": round(wall, 2),
        "images_per_s": round(images / wall, 1),
        "loop_images_per_s": round(images / max(loop_s, 1e-9), 1),
        "compute_images_per_s": round(images / max(train_time, 1e-9), 1),
    }
    answers = args.competition / "test_labels.csv"
    if answers.exists() and not args.no_eval:
        test_set = CompetitionImages(
            args.competition, "test_labels.csv", "test", train_set.classes, test_tf
        )
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in DataLoader(test_set, batch_size=512, num_workers=args.workers):
                correct += int((model(x).argmax(1) == y).sum())
        result["test_acc"] = round(correct / len(test_set), 4)
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
