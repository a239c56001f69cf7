"""A trained model rebuilt from its run folder: encoder + head + the loss's probabilities.

Everything comes from the run's checkpoint (:mod:`toolkit.runs.checkpoint`): the plugins and
their parameters, the classes, the input shape and the normalisation statistics. Before a run
starts, :func:`preflight` makes sure the model it is about to train can take its images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.runs.checkpoint import file_sha256, load_into, read_meta, read_tensors
from toolkit.runs.store import CHECKPOINT, find_run
from toolkit.train.batches import Normalizer
from toolkit.train.config import LEGACY_KEYS, TrainConfig
from toolkit.train.final import predict_probs
from toolkit.train.resizing import ProgressiveResize
from toolkit.train.tta import TTA

if TYPE_CHECKING:
    from toolkit.registry.contracts import Encoder
    from toolkit.train.parts import Model, Splits

PREFLIGHT_IMAGES = 2  # images pushed through the model before a run starts (2: BatchNorm-safe)
MIN_BALANCED_BATCH = 4  # P x K balanced batches need 2 classes x 2 images for a triplet


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


def preflight(model: Model, splits: Splits, config: TrainConfig) -> None:
    """Refuse, before the run folder exists, a run that would fail on its first batch: an
    embedding stage with nothing to train or batches too small to hold a positive and a
    negative pair, and a model that cannot take the images (:func:`check_forward`)."""
    if model.kinds.embedding_loss:
        loss = model.loss
        weights = [*model.encoder.parameters()]
        weights += [*loss.parameters()] if isinstance(loss, nn.Module) else []
        if not any(p.requires_grad for p in weights):
            raise ToolkitError(
                f"encoder {config.encoder} has no weights for the embedding loss {config.loss} "
                "to train; pick an encoder with weights (fastnet, convnet4, timm:...) or a "
                "logit loss such as softmax-ce."
            )
        if model.kinds.balanced_batches and config.batch_size < MIN_BALANCED_BATCH:
            raise ToolkitError(
                f"batch_size={config.batch_size} is too small for the embedding loss "
                f"{config.loss}: a class-balanced batch needs 2 classes x 2 images; pass "
                f"--set batch_size={MIN_BALANCED_BATCH} or more."
            )
    check_forward(model, splits, config.encoder)
    trains_on_images = model.kinds.embedding_loss or model.kinds.trains_encoder
    if config.progressive_resize > 0 and trains_on_images and len(splits.x_train):
        small = ProgressiveResize(config.progressive_resize, config.progressive_until)
        small.progress = 0.0  # the smallest batches, the first steps'
        check_forward(model, splits, config.encoder, small)


def check_forward(
    model: Model, splits: Splits, encoder_name: str, resize: ProgressiveResize | None = None
) -> None:
    """Push two training images through encoder and head (eval mode, no gradients) before a
    run starts, so a model that cannot take the data (a ViT's 16-pixel patches on 8x8 images)
    is one line, not a failed run folder; the modules' train/eval modes are restored. With
    ``resize``, the images at the smallest size progressive resizing trains them at."""
    x = splits.x_train[:PREFLIGHT_IMAGES]
    size = x.shape[2:] if resize is None else [resize.side(n) for n in x.shape[2:]]
    shape = "x".join(str(n) for n in (x.shape[1], *size))
    if resize is None:
        what, fix = (
            f"this competition's {shape} images",
            (
                "resize them with --set data.image_size=N (a size it takes, e.g. 224 for a model "
                "made for 224-pixel photos) or pick another encoder (tk plugins list)"
            ),
        )
    else:
        what, fix = (
            f"the {shape} batches progressive_resize={resize.start:g} starts on",
            (
                "set progressive_resize=0 (off) or nearer 1, or pick an encoder that takes any "
                "image size (fastnet, timm's CNNs)"
            ),
        )
    modes = [(m, m.training) for m in (model.encoder, model.head)]
    try:
        for module, _ in modes:
            module.eval()
        with torch.no_grad():
            xb = model.normalizer(x)
            try:
                features = model.encoder(xb if resize is None else resize(xb))
            except (ToolkitError, torch.OutOfMemoryError):
                raise
            except Exception as err:  # a shape the model cannot take: say what to change
                reason = " ".join(str(err).split())[:200] or type(err).__name__
                raise ToolkitError(
                    f"encoder {encoder_name} cannot take {what} ({type(err).__name__}: "
                    f"{reason}); {fix}."
                ) from None
            width = int(cast("Encoder", model.encoder).out_dim)
            got = tuple(getattr(features, "shape", ()))
            if resize is not None and got != (len(x), width):  # sized by the full images
                raise ToolkitError(
                    f"encoder {encoder_name} cannot take {what}: its features have shape "
                    f"{got}, not (B, out_dim={width}); {fix}."
                )
            if got != (len(x), width):
                raise ToolkitError(
                    f"encoder {encoder_name} returned features of shape {got} for {len(x)} "
                    f"images of {shape} but declares out_dim={width}; its forward must return "
                    "(B, out_dim) pooled features."
                )
            model.head(features)  # a head that fails here breaks its contract: not ours
    finally:
        for module, training in modes:
            module.train(training)


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
