"""``tk assignment``: the course assignment's pipeline, end to end, next to its results.

Each row is one experiment of the assignment, run with the assignment's model and settings
(learning rates, batch sizes, lambda, margin, early-stopping rule). Iteration counts are the
assignment's. The raw-pixel regressions are cheap and always run in full; the two convnet4
runs share ``budget`` (wall-clock seconds) so the whole table fits a deadline.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit.train.config import TrainConfig

if TYPE_CHECKING:
    from toolkit.data import Competition


@dataclass(frozen=True)
class Row:
    """One line of the assignment's results table and how we reproduce it."""

    key: str  # short id
    experiment: str  # what the assignment did
    reported: str  # the assignment's figure (CIFAR-10, full training set)
    metric: str  # which of our metrics is compared: val_acc | train_val | knn | test_acc
    share: float  # fraction of the total budget this row may use; 0 = not capped (cheap)


ROWS: tuple[Row, ...] = (
    Row("binary", "binary logistic regression, BCE + L2 (two classes)", "80.55%", "val_acc", 0.0),
    Row(
        "softmax",
        "softmax regression on raw pixels, last-25 early stopping",
        "36.47%",
        "val_acc",
        0.0,
    ),
    Row(
        "triplet",
        "convnet4 + triplet margin loss (margin 1, L2), kNN of embeddings, t-SNE",
        "plot",
        "knn",
        0.0,
    ),
    Row(
        "probe",
        "linear probe on the frozen triplet embeddings (train / val)",
        "70% / 65%",
        "train_val",
        0.5,
    ),
    Row(
        "finetune",
        "fine-tuned classifier on the triplet encoder, NLL (train / val; test)",
        "98% / 88.7%; 82.41",
        "train_val_test",
        0.5,
    ),
)


def configs(budget: float, seed: int = 0) -> dict[str, TrainConfig]:
    """The assignment's settings as run configs; each gets its share of ``budget`` seconds."""
    # Shared by every experiment: batch 256, a constant learning rate, the same split.
    base = TrainConfig(
        seed=seed,
        val_fraction=0.1,
        device="auto",
        batch_size=256,
        head_batch_size=256,
        schedule="constant",
    )

    def share(key: str) -> float:
        return budget * next(r.share for r in ROWS if r.key == key) if budget > 0 else 0.0

    return {
        # Problem 1: lr 1e-3, batch 256, lambda 0.1, 1000 iterations, first two classes.
        "binary": dataclasses.replace(
            base,
            encoder="pixels",
            loss="bce",
            head="linear-probe",
            l2=0.1,
            optimizer="adam",
            head_lr=1e-3,
            head_iterations=1000,
            eval_every=10,
            budget=share("binary"),
        ),
        # Softmax regression: gradient descent at lr 0.01, batch 256, at most 2000 iterations,
        # stop when val acc beats none of the last 25 (evaluated every 10 iterations).
        "softmax": dataclasses.replace(
            base,
            encoder="pixels",
            loss="softmax-ce",
            head="linear-probe",
            optimizer="sgd",
            head_lr=1e-2,
            head_iterations=2000,
            eval_every=10,
            early_stopping="last-k",
            patience=25,
            budget=share("softmax"),
        ),
        # Problem 2: convnet4 + triplet (margin 1, p=2), Adam 1e-3, batch 256, 3000 iterations,
        # then the softmax regression (linear probe) on the frozen embeddings.
        "probe": dataclasses.replace(
            base,
            encoder="convnet4",
            loss="triplet",
            head="linear-probe",
            loss_params={"margin": 1.0, "p": 2},
            optimizer="adam",
            lr=1e-3,
            iterations=3000,
            eval_every=100,
            head_lr=1e-2,
            head_epochs=50,
            early_stopping="none",
            budget=share("probe"),
        ),
        # Network B: the triplet encoder + a classifier, trained end to end with NLL.
        "finetune": dataclasses.replace(
            base,
            encoder="convnet4",
            loss="softmax-ce",
            head="finetune",
            optimizer="adam",
            lr=1e-3,
            iterations=3000,
            eval_every=100,
            early_stopping="patience",
            patience=10,
            budget=share("finetune"),
        ),
    }


def run_assignment(
    comp: Competition, *, budget: float, seed: int = 0, quiet: bool = False
) -> list[dict[str, Any]]:
    """Run every experiment; return one result dict per row of :data:`ROWS`."""
    from toolkit.train import train

    cfgs = configs(budget, seed)
    two = tuple(str(c) for c in list(comp.classes)[:2])
    results: dict[str, Any] = {}
    results["binary"] = train(
        dataclasses.replace(cfgs["binary"], classes=two),
        comp,
        quiet=quiet,
        extra={"assignment": "binary"},
    )
    results["softmax"] = train(cfgs["softmax"], comp, quiet=quiet, extra={"assignment": "softmax"})
    probe = train(cfgs["probe"], comp, quiet=quiet, extra={"assignment": "triplet+probe"})
    results["triplet"] = results["probe"] = probe
    ft_cfg = dataclasses.replace(cfgs["finetune"], init_from=str(probe.path))
    results["finetune"] = train(ft_cfg, comp, quiet=quiet, extra={"assignment": "finetune"})
    rows = []
    for row in ROWS:
        res = results[row.key]
        m = res.metrics
        rows.append(
            {
                "key": row.key,
                "experiment": row.experiment,
                "assignment": row.reported,
                "ours": _ours(row.metric, m, two if row.key == "binary" else None),
                "run_id": res.run_id,
                "metrics": m,
            }
        )
    return rows


def _ours(metric: str, m: dict[str, Any], classes: tuple[str, ...] | None) -> str:
    def pct(key: str) -> str:
        v = m.get(key)
        return "n/a" if v is None else f"{100 * v:.2f}%"

    if metric == "knn":
        return f"kNN {pct('val_knn_acc')} (tsne.png)"
    if metric == "train_val":
        return f"{pct('train_acc')} / {pct('val_acc')}"
    if metric == "train_val_test":
        return f"{pct('train_acc')} / {pct('val_acc')}; test {pct('test_acc')}"
    suffix = f" ({' vs '.join(classes)})" if classes else ""
    return pct("val_acc") + suffix
