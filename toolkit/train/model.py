"""A trained model rebuilt from its run folder: encoder + head + the loss's probabilities.

Everything comes from the run's checkpoint (:mod:`toolkit.runs.checkpoint`): the plugins and
their parameters, the classes, the input shape and the normalisation statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.runs.checkpoint import file_sha256, load_into, read_meta, read_tensors
from toolkit.runs.store import CHECKPOINT, find_run
from toolkit.train.batches import Normalizer
from toolkit.train.config import LEGACY_KEYS
from toolkit.train.final import predict_probs
from toolkit.train.tta import TTA


@dataclass
class LoadedModel:
    """An encoder + head rebuilt from a checkpoint, ready to predict."""

    encoder: nn.Module
    head: nn.Module
    loss: nn.Module  # gives probabilities(logits) for logit losses
    meta: dict[str, Any]

    @property
    def classes(self) -> list[Any]:
        """Class labels in their original form (index i = probability column i)."""
        return list(self.meta["classes"])

    def predict_probs(self, x: Any, *, tta: TTA | None = None, chunk: int = 8192) -> Any:
        """Class probabilities (N, K) for uint8 images (N, C, H, W), streamed in chunks.

        ``tta`` also averages over its views (in feature space, as the run validated).
        """
        stats = self.meta["normalizer"]
        device = next(self.head.parameters()).device
        norm = Normalizer(
            torch.tensor(stats["mean"], device=device), torch.tensor(stats["std"], device=device)
        )
        return predict_probs(
            self.encoder, self.head, self.loss, norm, x, device=device, tta=tta, chunk=chunk
        )


def load_model(run_id: str, device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the best model of a run (by id, prefix or folder)."""
    from toolkit.registry import encoders, heads, losses

    run = find_run(run_id)
    meta = read_meta(run)
    tensors = read_tensors(run.file(CHECKPOINT))
    if file_sha256(run.file(CHECKPOINT)) != meta.get("sha256"):
        raise ToolkitError(f"checkpoint of run {run.id} does not match its recorded hash.")
    encoder = encoders.create(
        meta["encoder"],
        in_channels=meta["in_channels"],
        image_size=meta["image_size"],
        **_without_weight_sources(meta["encoder"], meta["encoder_params"]),
    )
    head_params = _without_legacy("head", meta["head_params"])
    head = heads.create(
        meta["head"],
        in_features=meta["in_features"],
        num_classes=meta["logits_dim"],
        **head_params,
    )
    loss = losses.create(
        meta["head_loss"],
        num_classes=meta["num_classes"],
        **_without_legacy("loss", meta["head_loss_params"]),
    )
    load_into(encoder, tensors, "encoder.", run.id)
    load_into(head, tensors, "head.", run.id)
    encoder.to(device).eval()
    head.to(device).eval()
    return LoadedModel(encoder=encoder, head=head, loss=loss, meta=meta)


def _without_weight_sources(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Encoder parameters minus those naming where initial weights came from (a local file,
    pretrained weights in the hub cache): the run's own checkpoint holds every weight, so a
    run folder predicts without them, even after the file moved or the cache was cleared."""
    from toolkit.registry import encoders
    from toolkit.registry.contracts import weight_source_params

    sources = weight_source_params(encoders.get(name.partition(":")[0]))
    return {k: v for k, v in params.items() if k not in sources}


def _without_legacy(section: str, params: dict[str, Any]) -> dict[str, Any]:
    """Plugin parameters minus the training settings older runs recorded among them."""
    legacy = {key.partition(".")[2] for key in LEGACY_KEYS if key.startswith(f"{section}.")}
    return {k: v for k, v in params.items() if k not in legacy}
