"""The parts a run is built from: its data splits on the device and its model.

:func:`load_splits` takes the chosen classes, makes the stratified validation split, appends
the pseudo-labelled test images (``pseudo_labels``, :mod:`.pseudo`) to the train split only,
and puts both splits on the device as uint8 tensors. :func:`build_model` builds encoder, loss
and head through the registries (their contracts are checked there) and the head stage's loss,
and picks the normalisation statistics (pretrained weights' own, else the train split's).
:func:`init_from_data` then lets a fresh encoder set weights from training images (its optional
``init_from_data`` hook: fastnet's whitened stem).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.runs import checkpoint as ckpt
from toolkit.train.batches import Normalizer
from toolkit.train.config import TrainConfig
from toolkit.train.plan import HEAD_STAGE_LOSS, Kinds

INIT_IMAGES = 5000  # training images an encoder's init_from_data sees (airbench94's number)
INIT_PIXELS = 5000 * 32 * 32  # and at most this many pixels per channel: fewer large images

if TYPE_CHECKING:
    from toolkit.data import Competition
    from toolkit.registry.contracts import EmbeddingLoss, Encoder, Head, LogitLoss, Loss


@dataclass
class Splits:
    """The train and validation splits on the device (uint8 images, int64 labels)."""

    classes: list[Any]  # class labels, index i = class i
    x_train: torch.Tensor  # (N, C, H, W) uint8
    y_train: torch.Tensor  # (N,) int64
    x_val: torch.Tensor  # (Nv, C, H, W) uint8
    y_val: torch.Tensor  # (Nv,) int64
    # run.json's record of the pseudo-labelled test images at the end of the train split;
    # None: the run has none (see toolkit.train.pseudo)
    pseudo_labels: dict[str, Any] | None = None
    # Features of a frozen encoder, extracted once by the head stage ("train", "val").
    features: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[2])


@dataclass
class Model:
    """Encoder, head and losses of a run, and how its inputs are normalised."""

    encoder: nn.Module  # the plugin (weights are saved from this one)
    forward_encoder: nn.Module  # the encoder as called: compiled when config.compile
    loss: Loss  # the config's loss (trains the encoder stage of embedding runs)
    head: nn.Module  # the head plugin
    head_loss: LogitLoss  # the loss the head is trained with (the config's, for logit losses)
    head_loss_name: str
    head_loss_params: dict[str, Any]
    logits_dim: int
    normalizer: Normalizer
    kinds: Kinds  # what the plan needs to know about the plugins

    def describe(self, config: TrainConfig, splits: Splits, fingerprint: str) -> dict[str, Any]:
        """The checkpoint description of this model (see ``toolkit.runs.checkpoint.describe``)."""
        return ckpt.describe(
            config.to_dict(),
            classes=splits.classes,
            in_channels=splits.in_channels,
            image_size=splits.image_size,
            in_features=int(cast("Encoder", self.encoder).out_dim),
            logits_dim=self.logits_dim,
            head_loss=self.head_loss_name,
            head_loss_params=self.head_loss_params,
            normalizer=self.normalizer.state(),
            fingerprint=fingerprint,
        )


def load_splits(config: TrainConfig, comp: Competition, device: torch.device) -> Splits:
    """The chosen classes' train images, split into train and validation, on ``device``.

    Pseudo-labelled test images join the end of the train split; the validation split is the
    one the run has without them.
    """
    from toolkit.data import select_classes
    from toolkit.train.pseudo import pseudo_labels

    x_all, y_all, classes = select_classes(comp, config.classes)
    tr, va = config.split(y_all, classes)
    pseudo = pseudo_labels(config, comp)

    def images(idx: np.ndarray, extra: np.ndarray | None = None) -> torch.Tensor:
        x = x_all[idx] if extra is None else np.concatenate([x_all[idx], extra])
        return torch.from_numpy(np.ascontiguousarray(x)).to(device)

    def labels(idx: np.ndarray, extra: np.ndarray | None = None) -> torch.Tensor:
        y = y_all[idx] if extra is None else np.concatenate([y_all[idx], extra])
        return torch.from_numpy(y.astype(np.int64)).to(device)

    x_extra, y_extra = (None, None) if pseudo is None else (pseudo.x, pseudo.y)
    return Splits(
        classes,
        images(tr, x_extra),
        labels(tr, y_extra),
        images(va),
        labels(va),
        pseudo_labels=None if pseudo is None else pseudo.record(),
    )


def build_model(config: TrainConfig, splits: Splits, device: torch.device) -> Model:
    """Encoder, loss, head and head-stage loss of ``config`` for ``splits``, on ``device``."""
    from toolkit.registry import contracts, encoders, heads, losses

    cfg, k = config, splits.num_classes
    encoder = encoders.create(
        cfg.encoder,
        in_channels=splits.in_channels,
        image_size=splits.image_size,
        **cfg.encoder_params,
    )
    pretrained = contracts.data_config(encoder)  # weights' statistics and input size, or None
    normalizer = Normalizer.for_weights(pretrained, splits.x_train)
    loss = losses.create(cfg.loss, num_classes=k, **cfg.loss_params)
    embedding = loss.target == "embeddings"
    if embedding:
        head_loss_name = HEAD_STAGE_LOSS
        head_loss_params: dict[str, Any] = {"label_smoothing": cfg.label_smoothing}
        head_loss = losses.create(head_loss_name, num_classes=k, **head_loss_params)
    else:
        head_loss_name, head_loss_params, head_loss = cfg.loss, dict(cfg.loss_params), loss
    logit_loss = cast("LogitLoss", head_loss)  # the registry checked its contract
    logits_dim = int(logit_loss.logits_dim(k))
    head = heads.create(
        cfg.head, in_features=encoder.out_dim, num_classes=logits_dim, **cfg.head_params
    )
    kinds = Kinds(
        embedding_loss=embedding,
        balanced_batches=embedding and cast("EmbeddingLoss", loss).balanced_batches,
        trains_encoder=cast("Head", head).trains_encoder,
        pretrained=pretrained is not None,
    )
    module = cast(nn.Module, encoder).to(device, memory_format=torch.channels_last)
    return Model(
        encoder=module,
        forward_encoder=cast(nn.Module, torch.compile(module)) if cfg.compile else module,
        loss=loss,
        head=cast(nn.Module, head).to(device),
        head_loss=logit_loss,
        head_loss_name=head_loss_name,
        head_loss_params=head_loss_params,
        logits_dim=logits_dim,
        normalizer=normalizer,
        kinds=kinds,
    )


def init_from_data(model: Model, splits: Splits, seed: int) -> None:
    """Call the encoder's optional ``init_from_data`` (``toolkit.registry.contracts``) once,
    with a seeded sample of up to :data:`INIT_IMAGES` training images, normalised (a seeded
    sample, as the train split may be sorted by class). Only for a fresh encoder: the caller
    skips it for ``init_from`` and pretrained weights."""
    from toolkit.registry import contracts

    hook = contracts.init_from_data(cast("Encoder", model.encoder))
    n_train = len(splits.y_train)
    if hook is None or n_train == 0:
        return
    n = min(n_train, INIT_IMAGES, max(1, INIT_PIXELS // splits.image_size**2))
    sample = torch.randperm(n_train, generator=torch.Generator().manual_seed(seed))[:n]
    hook(model.normalizer(splits.x_train[sample.to(splits.x_train.device)]))


def initial_encoder_weights(config: TrainConfig) -> dict[str, torch.Tensor] | None:
    """The encoder weights ``init_from`` names, read before training starts (a bad source is
    a user error, not a failed run); ``None`` when fine-tuning starts fresh."""
    source = config.init_from
    if not source:
        return None
    path = Path(source).expanduser()
    if path.suffix == ".safetensors" and not path.is_file():
        raise ToolkitError(
            f"init_from '{source}' does not exist; pass an existing encoder .safetensors "
            "file, a run folder or a run id."
        )
    if path.is_file() and path.suffix != ".safetensors":
        raise ToolkitError(
            f"init_from '{source}' is not a .safetensors file; pass a run folder, a run id or "
            "an encoder .safetensors checkpoint."
        )
    return ckpt.encoder_weights(source)


def load_encoder(encoder: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Start ``encoder`` from ``state`` (from ``init_from``); a mismatch is a user error."""
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ToolkitError(
            f"init_from={source}: its encoder does not match this encoder ({first}); start "
            "from a run with the same encoder and parameters."
        ) from None
