"""The final evaluation of a run: accuracies, per-class accuracy, confusion, probabilities."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from toolkit.runs.results import FinalMetrics
from toolkit.train import evaluate as ev
from toolkit.train.batches import Normalizer
from toolkit.train.tta import TTA

if TYPE_CHECKING:
    from toolkit.data import Competition
    from toolkit.metrics import Metric
    from toolkit.train.config import TrainConfig
    from toolkit.train.parts import Model, Splits
    from toolkit.train.stages import Setup

TRAIN_EVAL_SAMPLES = 5_000  # train accuracy is measured on at most this many images


@torch.no_grad()
def predict_probs(
    encoder: nn.Module,
    head: nn.Module,
    head_loss: Any,
    norm: Normalizer,
    x: np.ndarray | torch.Tensor,
    *,
    device: torch.device,
    tta: TTA | None = None,
    autocast: Callable[[], Any] | None = None,
    chunk: int = 8192,
) -> np.ndarray:
    """Class probabilities (N, K) for uint8 images (N, C, H, W), streamed in chunks.

    Works on memory-mapped arrays without loading them whole: each chunk is copied out and its
    pages of the map are released, and its probabilities go straight into the one output
    array, so memory holds the output plus about one chunk whatever N is. (Collecting the
    chunks' outputs in a list left each small block between the freed chunk-sized ones and
    made the C heap grow with N, about 1 KB per image.)
    """
    from toolkit.data import release_pages

    out: np.ndarray | None = None
    for start in range(0, x.shape[0], chunk):
        part = x[start : start + chunk]
        if isinstance(part, torch.Tensor):
            xb = part
        else:
            xb = torch.from_numpy(np.array(part))  # a copy: the map's pages can go
            release_pages(part)
        feats = ev.embed(encoder, xb.to(device), norm, tta=tta, autocast=autocast)
        probs = head_loss.probabilities(ev.head_logits(head, feats)).float().cpu()  # (B, K)
        if out is None:
            out = np.empty((x.shape[0], probs.shape[1]), dtype=np.float32)  # (N, K)
        out[start : start + len(probs)] = probs.numpy()
        del xb, feats, probs
    if out is None:
        return np.zeros((0, 0), dtype=np.float32)
    return out


def final_metrics(
    cfg: TrainConfig, comp: Competition, model: Model, splits: Splits, setup: Setup
) -> FinalMetrics:
    """Measure the restored best model on train (a sample), validation and test."""
    x_tr, y_tr, x_va, y_va = splits.x_train, splits.y_train, splits.x_val, splits.y_val
    device, autocast, feats = y_tr.device, setup.autocast, splits.features
    encoder, head, head_loss, norm = model.encoder, model.head, model.head_loss, model.normalizer
    k = splits.num_classes
    n_tr = min(len(y_tr), TRAIN_EVAL_SAMPLES)
    tta = setup.tta  # flips, when the run trained with them and tta is on

    def probs(x: torch.Tensor, cached: str) -> np.ndarray:
        if cached in feats:  # frozen encoder: reuse the features extracted for the head
            f = feats[cached] if cached != "train" else feats[cached][:n_tr]
            return head_loss.probabilities(ev.head_logits(head, f)).float().cpu().numpy()
        return predict_probs(
            encoder, head, head_loss, norm, x, device=device, tta=tta, autocast=autocast
        )

    p_tr = probs(x_tr[:n_tr], "train")
    validated = len(y_va) > 0  # val_fraction = 0: trained on every image, nothing to score
    p_va = probs(x_va, "val") if validated else np.zeros((0, k), dtype=np.float32)
    yv = y_va.cpu().numpy()
    mat = ev.confusion(p_va.argmax(1), yv, k)
    p_te = predict_probs(
        encoder, head, head_loss, norm, comp.x_test, device=device, tta=tta, autocast=autocast
    )
    classes = splits.classes
    knn, emb = None, None
    if model.kinds.embedding_loss and validated:
        n_knn = min(len(y_tr), TRAIN_EVAL_SAMPLES)
        if "train" in feats and tta is None:  # frozen encoder: its features are at hand
            f_tr, f_va = feats["train"][:n_knn], feats["val"]
        else:
            f_tr = ev.embed(encoder, x_tr[:n_knn], norm, autocast=autocast)
            f_va = ev.embed(encoder, x_va, norm, autocast=autocast)
        knn = ev.knn_accuracy(f_tr, y_tr[: len(f_tr)], f_va, y_va, k, cfg.knn_k)
        emb = f_va.cpu().numpy()
    return FinalMetrics(
        classes=classes,
        train_acc=ev.accuracy(p_tr.argmax(1), y_tr[:n_tr].cpu().numpy()),
        val_acc=ev.accuracy(p_va.argmax(1), yv) if validated else None,
        val_per_class=ev.per_class_accuracy(mat),
        confusion=mat,
        val_probs=p_va,
        val_labels=yv,
        test_probs=p_te,
        test_acc=test_accuracy(comp, classes, p_te),
        knn_acc=knn,
        val_embeddings=emb,
        metric=setup.metric.name,
        val_score=ev.metric_value(setup.metric, p_va, yv) if validated else None,
        test_score=test_score(comp, classes, p_te, setup.metric),
    )


def _answers(comp: Competition, classes: list[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """(test rows kept, their labels as the run's class indices): the answer key restricted
    to the run's classes when it used a subset; None without a key or a common class."""
    if comp.y_test is None:
        return None
    full = list(comp.classes)
    to_run = {full.index(c): i for i, c in enumerate(classes)}
    y = np.asarray(comp.y_test)
    keep = np.array([int(t) in to_run for t in y], dtype=bool)
    if not keep.any():
        return None
    return keep, np.array([to_run[int(t)] for t in y[keep]], dtype=np.int64)


def test_accuracy(comp: Competition, classes: list[Any], probs: np.ndarray) -> float | None:
    """Accuracy on the answer key, restricted to the run's classes when it used a subset."""
    answers = _answers(comp, classes)
    if answers is None or len(probs) == 0:
        return None
    keep, mapped = answers
    return ev.accuracy(probs[keep].argmax(1), mapped)


def test_score(
    comp: Competition, classes: list[Any], probs: np.ndarray, metric: Metric
) -> float | None:
    """The metric on the answer key (None without one, or when the metric cannot be
    computed there, e.g. ROC AUC on a key that holds one class)."""
    from toolkit.errors import ToolkitError

    answers = _answers(comp, classes)
    if answers is None or len(probs) == 0:
        return None
    keep, mapped = answers
    try:
        return ev.metric_value(metric, probs[keep], mapped)
    except ToolkitError:
        return None
