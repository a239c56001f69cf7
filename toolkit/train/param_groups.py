"""The optimiser's parameter groups for a stage's ``(params, lr multiplier)`` groups.

Weights are the matrices and kernels (``ndim > 1``): they get the L2 penalty
(``config.weight_decay``).
With ``config.bias_lr_scale`` != 1 each group splits in two: its weights, and the rest (biases,
BatchNorm's scales and shifts), whose learning rate is multiplied by ``bias_lr_scale`` and
whose weight decay is divided by it, so their decay per step stays what it was. That is
airbench94's rule (``bias_scaler = 64``: ``lr_biases = lr * 64`` with ``weight_decay =
wd / lr_biases``; it freezes BatchNorm's scales, so there it speeds up BatchNorm's shifts alone);
the decay is exact for SGD and AdamW, whose decay per step is ``lr * weight_decay``.

Each group's multiplier is its ``lr_scale``, which the loop multiplies by the scheduled
learning rate before every step, so the scale holds through the schedule. Frozen parameters
(``requires_grad`` False, such as fastnet's whitened stem) are left out.
"""

from __future__ import annotations

from typing import Any

from torch import nn


def is_weight(param: nn.Parameter) -> bool:
    """Weight matrices/kernels get the L2 penalty; biases and norm scales do not."""
    return param.requires_grad and param.ndim > 1


def param_groups(
    groups: list[tuple[list[nn.Parameter], float]],
    lr: float,
    weight_decay: float,
    bias_lr_scale: float = 1.0,
) -> list[dict[str, Any]]:
    """The optimiser's groups (``params``, ``lr``, ``lr_scale``, ``weight_decay``), empty
    ones left out."""
    out: list[dict[str, Any]] = []
    for params, scale in groups:
        trained = [p for p in params if p.requires_grad]
        parts = [(trained, scale, weight_decay)]
        if bias_lr_scale != 1.0:
            parts = [
                ([p for p in trained if is_weight(p)], scale, weight_decay),
                (
                    [p for p in trained if not is_weight(p)],
                    scale * bias_lr_scale,
                    weight_decay / bias_lr_scale,
                ),
            ]
        out += [
            {"params": ps, "lr": lr * s, "lr_scale": s, "weight_decay": wd}
            for ps, s, wd in parts
            if ps
        ]
    return out
