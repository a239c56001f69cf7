"""Checkpoints: weights as safetensors plus a JSON description. Never a pickle.

``save`` writes ``checkpoint.safetensors`` (keys ``encoder.*`` and ``head.*``) and
``checkpoint.json`` (plugins, parameters, classes, input shape, normalisation statistics).
``toolkit.train.model.load_model`` rebuilds encoder and head from them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
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
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    with io.atomic_path(run.file(CHECKPOINT)) as tmp:
        try:
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
        except SafetensorError as err:  # an I/O error, quoted: "... (os error 28)"
            raise io.write_error(run.file(CHECKPOINT), err, partial=tmp) from None
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


# What rebuilding a model reads from checkpoint.json, and the type each must have.
META_TYPES: dict[str, type | tuple[type, ...]] = {
    "encoder": str,
    "encoder_params": dict,
    "head": str,
    "head_params": dict,
    "head_loss": str,
    "head_loss_params": dict,
    "classes": list,
    "num_classes": int,
    "logits_dim": int,
    "in_channels": int,
    "image_size": int,
    "in_features": int,
    "normalizer": dict,
}


def read_meta(run: RunDir) -> dict[str, Any]:
    """The checkpoint description of a run (checkpoint.json); a damaged one is a one-line
    error naming the file."""
    path = run.file(CHECKPOINT_META)
    if not path.is_file():
        raise ToolkitError(
            f"run {run.id} has no usable checkpoint ({path.name} missing or unreadable); "
            "it may have been interrupted before its first evaluation."
        )
    meta: dict[str, Any] = io.read_checked_json(
        path,
        meta_problem,
        unreadable=f"cannot read {path.name}",
        advice="check its permissions",
        remedy="retrain the run, or restore the file from a backup.",
    )
    return meta


def meta_problem(meta: Any) -> str | None:
    """What is wrong with a parsed checkpoint.json (None when a model can be rebuilt from it)."""
    if not isinstance(meta, dict):
        return f"it holds {json.dumps(meta)[:40]}, not a checkpoint description"
    if meta.get("format") != FORMAT:
        return f"it is not a {FORMAT} checkpoint description"
    for key, kind in META_TYPES.items():
        if key not in meta:
            return f"'{key}' is missing"
        if not isinstance(meta[key], kind) or isinstance(meta[key], bool):
            return f"its '{key}' is {json.dumps(meta[key])[:40]}"
    return None


def encoder_weights(source: str) -> dict[str, torch.Tensor]:
    """Encoder weights from a run id/folder or a .safetensors file (the ``init_from`` setting)."""
    path = Path(source).expanduser()
    if path.is_file():
        tensors = read_tensors(path)
    else:
        tensors = read_tensors(find_run(source).file(CHECKPOINT))
    if any(k.startswith("encoder.") for k in tensors):
        return {k[len("encoder.") :]: v for k, v in tensors.items() if k.startswith("encoder.")}
    return tensors


def describe(
    config: Mapping[str, Any],
    *,
    classes: list[Any],
    in_channels: int,
    image_size: int,
    in_features: int,
    logits_dim: int,
    head_loss: str,
    head_loss_params: Mapping[str, Any],
    normalizer: Mapping[str, list[float]],
    fingerprint: str,
) -> dict[str, Any]:
    """The JSON beside the weights: enough to rebuild and use the model without the config.

    ``config`` is the run's config as a dict; ``normalizer`` the mean/std the model was
    trained with.
    """
    return {
        "encoder": config["encoder"],
        "encoder_params": dict(config["encoder_params"]),
        "head": config["head"],
        "head_params": dict(config["head_params"]),
        "head_loss": head_loss,
        "head_loss_params": dict(head_loss_params),
        "classes": classes,
        "num_classes": len(classes),
        "logits_dim": logits_dim,
        "in_channels": in_channels,
        "image_size": image_size,
        "in_features": in_features,
        "normalizer": dict(normalizer),
        "tta": bool(config.get("tta", False)),
        "data_fingerprint": fingerprint,
    }


def load_into(module: nn.Module, tensors: dict[str, torch.Tensor], prefix: str, rid: str) -> None:
    """Load the ``prefix`` part of a checkpoint's tensors into ``module`` (strictly)."""
    state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ToolkitError(f"checkpoint of run {rid} does not fit its model: {first}") from None
