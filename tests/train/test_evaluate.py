"""Evaluation helpers: BatchNorm statistics recomputed for the weights being scored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from toolkit.data import Competition
from toolkit.train import TrainConfig, train
from toolkit.train import evaluate as ev
from toolkit.train.batches import Normalizer


def _identity_norm() -> Normalizer:
    return Normalizer(torch.zeros(1), torch.ones(1))


def test_refresh_batchnorm_sets_the_statistics_of_the_images() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    net.eval()
    x = torch.randint(0, 256, (64, 1, 8, 8), dtype=torch.uint8)
    norm = _identity_norm()
    ev.refresh_batchnorm([net], net, x, norm, batch_size=64)
    bn = net[1]
    assert isinstance(bn, nn.BatchNorm2d)
    with torch.no_grad():
        act = net[0](norm(x))
    assert torch.allclose(bn.running_mean, act.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-3)
    assert torch.allclose(bn.running_var, act.var(dim=(0, 2, 3)), rtol=1e-3, atol=1e-2)
    assert not net.training and bn.momentum == 0.1  # mode and momentum are restored


def test_refresh_batchnorm_leaves_modules_without_batchnorm_alone() -> None:
    net = nn.Linear(4, 2)
    calls: list[int] = []

    def forward(xb: torch.Tensor) -> torch.Tensor:
        calls.append(len(xb))
        return net(xb.flatten(1))

    ev.refresh_batchnorm(
        [net], forward, torch.zeros(8, 1, 2, 2, dtype=torch.uint8), _identity_norm()
    )
    assert calls == []  # nothing to recompute: no forward pass at all


def test_a_short_run_reports_what_its_weights_score_with_fresh_statistics(
    digits: Competition, runs_dir: Path
) -> None:
    """Three epochs are far too few for BatchNorm's running averages to catch up (the run
    reported 20% validation accuracy for weights worth 97%); what a run reports must be within
    a point of the same weights scored with batch statistics of the validation images."""
    from toolkit.data import split_validation
    from toolkit.train.model import load_model

    cfg = TrainConfig(encoder="fastnet", encoder_params={"width": 0.25}, epochs=3, seed=0)
    result = train(cfg, digits, quiet=True)
    model = load_model(str(result.path))
    _, va_idx = split_validation(digits.y_train, cfg.val_fraction, cfg.seed)
    x_val = torch.from_numpy(np.asarray(digits.x_train[va_idx]))
    y_val = np.asarray(digits.y_train)[va_idx]
    stats = model.meta["normalizer"]
    norm = Normalizer(torch.tensor(stats["mean"]), torch.tensor(stats["std"]))
    model.encoder.train()  # batch statistics: the whole validation split as one batch
    model.head.train()
    with torch.no_grad():
        fresh = model.head(model.encoder(norm(x_val))).argmax(1).numpy()
    fresh_acc = float((fresh == y_val).mean())
    assert fresh_acc > 0.5  # the weights learned something: the comparison means something
    assert abs(result.metrics["val_acc"] - fresh_acc) <= 0.01, (result.metrics, fresh_acc)
    # The last evaluation is reported beside the best one the run kept (never above it).
    assert 0 < result.metrics["val_score_last"] <= result.metrics["val_acc"] + 1e-6


def test_statistics_settled_over_many_training_batches_are_kept() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    bn = net[1]
    assert isinstance(bn, nn.BatchNorm2d)
    x = torch.randint(0, 256, (16, 1, 6, 6), dtype=torch.uint8)
    assert not ev.batchnorm_settled([net])  # a fresh module: its statistics are recomputed
    bn.num_batches_tracked.fill_(ev.BN_SETTLED_BATCHES)
    before = bn.running_mean.clone()
    assert ev.batchnorm_settled([net])  # long runs: nothing recomputed
    assert torch.equal(bn.running_mean, before)
    assert ev.batchnorm_settled([nn.Linear(2, 2)])  # no BatchNorm: nothing to recompute
    ev.refresh_batchnorm([net], net, x, _identity_norm())
    assert not torch.equal(bn.running_mean, before)  # asked outright: recomputed
