"""Named recipes: measured sets of plugins and settings, used with ``tk train --recipe NAME``.

A recipe fills in the encoder, loss, head and training settings; anything given on the
command line (``--encoder``, ``--set key=value``, ``--budget``) still wins. The numbers that
chose each recipe come from ``benchmarks/recipes.py`` and are in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.errors import ToolkitError


@dataclass(frozen=True)
class Recipe:
    """Plugins and ``--set`` overrides that train well together."""

    name: str
    summary: str  # one line for listings
    encoder: str
    loss: str
    head: str
    settings: Mapping[str, Any] = field(default_factory=dict)  # as --set key=value
    # Settings measured for this encoder alone, left out (like its encoder.* parameters) when
    # the user swaps in another: progressive resizing trains 16-pixel batches, which a
    # fixed-size ViT cannot take and a pretrained model was not measured on.
    encoder_settings: frozenset[str] = frozenset()

    def overrides(
        self, encoder: str | None = None, loss: str | None = None, head: str | None = None
    ) -> dict[str, Any]:
        """The settings, less the parameters of any plugin the user swapped for another (and
        the ``encoder_settings`` when it is the encoder)."""
        swapped = {
            section
            for section, chosen in (("encoder", encoder), ("loss", loss), ("head", head))
            if chosen is not None and chosen != getattr(self, section)
        }
        bound = self.encoder_settings if "encoder" in swapped else frozenset()
        return {
            k: v
            for k, v in self.settings.items()
            if k.partition(".")[0] not in swapped and k not in bound
        }


# Augmentation and optimiser shared by the fastnet recipes (chosen on cifar10-dev).
_FASTNET_TRAINING: dict[str, Any] = {
    "optimizer": "sgd",
    "lr": 0.1,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "batch_size": 256,
    "warmup": 0.05,
    "schedule": "linear",
    "crop_pad": 2,
    "flip": True,
    "autosize": True,  # under --budget the width is the budget's (toolkit.train.autosize)
}

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            name="fastnet-finetune",
            summary="fastnet trained end to end: SGD-Nesterov, crop+flip, label smoothing, "
            "mixup, flip TTA (our best fine-tune on natural images)",
            encoder="fastnet",
            loss="softmax-ce",
            head="finetune",
            settings={
                **_FASTNET_TRAINING,
                "loss.label_smoothing": 0.2,
                "tta": True,
                # Adopted 2026-12-07: together +0.5 to +1.2 test points in all three pairs at
                # equal time (cifar10-dev at widths 1.0 and 0.5, cifar10-45k; docs/BENCHMARKS.md)
                "mixup": 0.2,
                "bias_lr_scale": 64.0,  # airbench's: biases and norm weights at 64x the lr
                "flip_mode": "alternate",  # airbench's: each image mirrored every other epoch
                # Adopted 2026-12-07 (third sitting): crops of up to 4 px, and the first half of
                # the budget on smaller images (16 then 24 px of 32), so 1.4-1.8x the images:
                # +2.2 to +2.65 on cifar10-dev, +0.9 on cifar10-45k (docs/BENCHMARKS.md)
                "crop_pad": 4,
                "progressive_resize": 0.5,
            },
            encoder_settings=frozenset({"progressive_resize"}),
        ),
        Recipe(
            name="fastnet-supcon-probe",
            summary="fastnet trained with supervised contrastive loss, then a linear probe "
            "on the frozen embeddings (our best contrastive recipe)",
            encoder="fastnet",
            loss="supcon",
            head="linear-probe",
            settings={**_FASTNET_TRAINING, "tta": True, "head_epochs": 30.0},
        ),
    )
}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; an unknown name is an error listing the known ones."""
    try:
        return RECIPES[name]
    except KeyError:
        close = difflib.get_close_matches(name, RECIPES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ToolkitError(
            f"unknown recipe '{name}'{hint}; known recipes: {', '.join(RECIPES)}."
        ) from None
