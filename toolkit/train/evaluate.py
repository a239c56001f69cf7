"""Evaluation: batched inference, classification metrics and kNN accuracy of embeddings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from toolkit.train.batches import Normalizer
from toolkit.train.tta import TTA, mean_over_views, stack_views

if TYPE_CHECKING:
    from toolkit.metrics import Metric


@torch.no_grad()
def embed(
    encoder: nn.Module,
    x: torch.Tensor,
    normalize: Normalizer,
    *,
    batch_size: int = 1024,
    tta: TTA | None = None,
    autocast: Callable[[], object] | None = None,
) -> torch.Tensor:
    """Encoder features of uint8 images ``x`` (N, C, H, W) -> (N, D) float32, in batches.

    With ``tta`` every view of a batch goes through the encoder in one forward pass (the
    views stacked along the batch, ``batch_size`` images in all) and the features are averaged.
    """
    was_training = encoder.training
    encoder.eval()
    out = []
    step = max(1, batch_size // (len(tta.views()) if tta else 1))
    for start in range(0, x.shape[0], step):
        batch = normalize(x[start : start + step])
        with autocast() if autocast else _null():
            feats = mean_over_views(encoder(stack_views(batch, tta)), tta)
        out.append(feats.float())
    encoder.train(was_training)
    if not out:
        return torch.zeros(0, 0)
    return torch.cat(out)


BN_REFRESH_IMAGES = 2048  # train images BatchNorm statistics are recomputed on
# Running statistics averaged over this many training batches have forgotten their start
# (0.9^100 < 1e-4 with torch's momentum 0.1) and follow the weights: no recomputation then.
BN_SETTLED_BATCHES = 100


def _batchnorms(modules: list[nn.Module]) -> list[nn.modules.batchnorm._BatchNorm]:
    return [
        m
        for mod in modules
        for m in mod.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]


def batchnorm_settled(modules: list[nn.Module]) -> bool:
    """Whether every BatchNorm of ``modules`` has averaged :data:`BN_SETTLED_BATCHES` training
    batches (True when there is none: nothing to recompute)."""
    tracked = [int(m.num_batches_tracked or 0) for m in _batchnorms(modules)]
    return min(tracked, default=BN_SETTLED_BATCHES) >= BN_SETTLED_BATCHES


@torch.no_grad()
def refresh_batchnorm(
    modules: list[nn.Module],
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    normalize: Normalizer,
    *,
    batch_size: int = 256,
    autocast: Callable[[], object] | None = None,
) -> None:
    """Recompute the BatchNorm running statistics of ``modules`` on uint8 images ``x``.

    During training the running statistics trail the weights (an exponential average with
    momentum 0.1 remembers the first, untrained steps for dozens of steps), so an evaluation
    early in a run, or in any short run, measures stale statistics rather than the model:
    a 3-epoch digits run scored 20% with them and 97% with fresh ones. This is "precise BN":
    the statistics become the plain average over ``x`` (un-augmented train images, like the
    images evaluated) for the current weights. Modules without BatchNorm cost nothing; callers
    skip it once :func:`batchnorm_settled` (a recomputation costs about 3 training steps of
    images: long runs that evaluate every epoch would pay it for nothing).
    """
    norms = _batchnorms(modules)
    if not norms or len(x) == 0:
        return
    momenta = [m.momentum for m in norms]
    modes = [mod.training for mod in modules]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # None: a cumulative average over every batch that follows
    for mod in modules:
        mod.train()
    try:
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size]
            if len(batch) < 2:  # one image has no batch variance
                break
            with autocast() if autocast else _null():
                forward(normalize(batch))
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        for mod, mode in zip(modules, modes, strict=True):
            mod.train(mode)


@torch.no_grad()
def head_logits(head: nn.Module, feats: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Head outputs for precomputed features (N, D) -> (N, K)."""
    was_training = head.training
    head.eval()
    out = [head(feats[i : i + batch_size]).float() for i in range(0, feats.shape[0], batch_size)]
    head.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 0)


def metric_value(
    metric: Metric, probs: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray
) -> float:
    """The competition's metric of class probabilities (N, K) against labels (N,)."""
    p = probs.detach().cpu().double().numpy() if isinstance(probs, torch.Tensor) else probs
    t = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y
    if len(t) == 0:
        return float("nan")
    p = np.asarray(p, dtype=np.float64)
    p = p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)  # float32 rows: sum to 1 again
    return float(metric(np.asarray(t, dtype=np.int64), p))


def scores(
    head_loss: Any, logits: torch.Tensor, y: torch.Tensor, metric: Metric
) -> dict[str, Any]:
    """An evaluation's numbers: accuracy, the metric's value and the oriented score."""
    probs = head_loss.probabilities(logits).float()
    acc = float((probs.argmax(1) == y).float().mean()) if len(y) else 0.0
    if metric.name == "accuracy":
        return {"score": acc, "value": acc, "val_acc": acc}
    value = metric_value(metric, probs, y)
    named = f"val_{metric.name}"
    return {"score": metric.oriented(value), "value": value, "val_acc": acc, named: value}


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Fraction of ``pred == y`` (0.0 for an empty split)."""
    return float((pred == y).mean()) if len(y) else 0.0


def confusion(pred: np.ndarray, y: np.ndarray, num_classes: int) -> np.ndarray:
    """Confusion matrix (num_classes, num_classes): rows are true classes, columns predictions."""
    mat = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(mat, (y.astype(np.int64), pred.astype(np.int64)), 1)
    return mat


def per_class_accuracy(mat: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix (NaN for a class with no samples)."""
    totals = mat.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(mat) / np.maximum(totals, 1), np.nan)


@torch.no_grad()
def knn_accuracy(
    train_feats: torch.Tensor,
    train_y: torch.Tensor,
    val_feats: torch.Tensor,
    val_y: torch.Tensor,
    num_classes: int,
    k: int = 20,
    chunk: int = 1024,
) -> float:
    """Accuracy of a cosine-similarity kNN classifier (similarity-weighted votes)."""
    if len(val_y) == 0 or len(train_y) == 0:
        return 0.0
    k = min(k, len(train_y))
    train_n = nn.functional.normalize(train_feats.float(), dim=1)
    correct = 0
    for start in range(0, len(val_y), chunk):
        q = nn.functional.normalize(val_feats[start : start + chunk].float(), dim=1)
        sims, idx = (q @ train_n.T).topk(k, dim=1)  # (b, k)
        votes = torch.zeros(q.shape[0], num_classes, device=q.device)
        votes.scatter_add_(1, train_y[idx], sims.exp())
        correct += int((votes.argmax(1) == val_y[start : start + chunk]).sum())
    return correct / len(val_y)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
