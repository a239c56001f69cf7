"""Checkpoints: weights as safetensors plus a JSON description. Never a pickle.

``save`` writes ``checkpoint.safetensors`` (keys ``encoder.*`` and ``head.*``) and
``checkpoint.json`` (plugins, parameters, classes, input shape, normalisation statistics).
``load_model`` rebuilds encoder and head through the registries and loads the weights.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from toolkit import io
from toolkit.errors import ToolkitError
from toolkit.runs.store import CHECKPOINT, CHECKPOINT_META, RunDir, find_run

FORMAT = "toolkit-checkpoint/1"


def state_tensors(encoder: nn.Module, head: nn.Module | None) -> dict[str, torch.Tensor]:
    """Flattened, detached CPU copies of both state dicts (safe to keep as 'best so far')."""
    out = {
        f"encoder.{k}": v.detach().to("cpu", copy=True) for k, v in encoder.state_dict().items()
    }
    if head is not None:
        out.update(
            {f"head.{k}": v.detach().to("cpu", copy=True) for k, v in head.state_dict().items()}
        )
    return out


def save(run: RunDir, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> str:
    """Write the checkpoint files atomically; return the weights' sha256."""
    from safetensors.torch import save_file

    with io.atomic_path(run.file(CHECKPOINT)) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
        digest = file_sha256(tmp)
    io.write_json(run.file(CHECKPOINT_META), {"format": FORMAT, "sha256": digest, **meta})
    return digest


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file; anything else (a pickle, say) is refused, never unpickled."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ToolkitError(f"checkpoint {path} does not exist; check the run folder or path.")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise ToolkitError(
            f"refusing to load {path}: it is not a safetensors file ({err}); the toolkit never "
            "unpickles checkpoints, so convert it with safetensors.torch.save_file."
        ) from None


def read_meta(run: RunDir) -> dict[str, Any]:
    """The checkpoint description of a run (checkpoint.json)."""
    path = run.file(CHECKPOINT_META)
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        raise ToolkitError(
            f"run {run.id} has no usable checkpoint ({path.name} missing or unreadable); "
            "it may have been interrupted before its first evaluation."
        ) from None
    if meta.get("format") != FORMAT:
        raise ToolkitError(f"{path} is not a {FORMAT} checkpoint description.")
    return meta


def encoder_weights(source: str) -> dict[str, torch.Tensor]:
    """Encoder weights from a run id/folder or a .safetensors file (for ``head.init_from``)."""
    path = Path(source).expanduser()
    if path.is_file():
        tensors = read_tensors(path)
    else:
        tensors = read_tensors(find_run(source).file(CHECKPOINT))
    if any(k.startswith("encoder.") for k in tensors):
        return {k[len("encoder.") :]: v for k, v in tensors.items() if k.startswith("encoder.")}
    return tensors


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

    def predict_probs(self, x: Any, *, tta: bool = False, chunk: int = 8192) -> Any:
        """Class probabilities (N, K) for uint8 images (N, C, H, W), streamed in chunks.

        ``tta`` also averages over the horizontal flip (in feature space, as in training).
        """
        from toolkit.train.batches import Normalizer
        from toolkit.train.final import predict_probs

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
    head_params = {k: v for k, v in meta["head_params"].items() if k != "init_from"}
    head = heads.create(
        meta["head"],
        in_features=meta["in_features"],
        num_classes=meta["logits_dim"],
        **head_params,
    )
    loss = losses.create(
        meta["head_loss"], num_classes=meta["num_classes"], **meta["head_loss_params"]
    )
    _load_into(encoder, tensors, "encoder.", run.id)
    _load_into(head, tensors, "head.", run.id)
    encoder.to(device).eval()
    head.to(device).eval()
    return LoadedModel(encoder=encoder, head=head, loss=loss, meta=meta)


def _without_weight_sources(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Encoder parameters minus those naming where initial weights came from (a local file,
    pretrained weights in the hub cache): the run's own checkpoint holds every weight, so a
    run folder predicts without them, even after the file moved or the cache was cleared."""
    from toolkit.registry import encoders

    factory = encoders.get(name.partition(":")[0])
    sources = tuple(getattr(factory, "weight_source_params", ()))
    return {k: v for k, v in params.items() if k not in sources}


def _load_into(module: nn.Module, tensors: dict[str, torch.Tensor], prefix: str, rid: str) -> None:
    state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ToolkitError(f"checkpoint of run {rid} does not fit its model: {first}") from None
