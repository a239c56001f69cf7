"""``timm:<model>``: any timm model as an encoder, built from scratch or from a local checkpoint.

Weights are never downloaded: the model is created with ``pretrained=False`` and, when
``checkpoint`` names a local file, loaded from it. timm is imported inside the factory because
importing it takes seconds.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.registry import Float, encoders


@encoders.register(
    "timm",
    space={
        "train.lr": Float(1e-4, 1e-2, log=True),
        "train.weight_decay": Float(1e-5, 1e-1, log=True),
    },
)
def timm_encoder(
    in_channels: int,
    image_size: int,
    variant: str = "resnet18",  # the timm model name, written as timm:<name> on the command line
    checkpoint: str = "",  # local .safetensors/.pth/.bin weights to start from; "" = random init
) -> nn.Module:
    """Any timm model (timm:<name>) without its classifier; weights only from a local file."""
    import timm

    name = variant.strip()
    if not name or not timm.is_model(name):
        raise ToolkitError(_unknown_model_message(name, timm.list_models()))
    model = _create(timm, name, in_channels, image_size)
    if checkpoint:
        load_checkpoint(model, checkpoint)
    model.out_dim = int(model.num_features)  # forward() returns pooled (B, num_features)
    return model


def _create(timm: Any, name: str, in_channels: int, image_size: int) -> nn.Module:
    kwargs: dict[str, Any] = {"pretrained": False, "num_classes": 0, "in_chans": in_channels}
    try:
        # Models with a fixed input grid (ViTs, MLP-Mixers) must be told the image size.
        return timm.create_model(name, img_size=image_size, **kwargs)
    except TypeError as err:
        if "img_size" not in str(err):
            raise
    return timm.create_model(name, **kwargs)


def load_checkpoint(model: nn.Module, path: str) -> None:
    """Load a local state dict into ``model`` non-strictly, skipping classifier weights.

    Accepts ``.safetensors`` (safetensors) or a ``torch.save`` file (``.pth``, ``.pt``,
    ``.bin``), optionally wrapped as ``{"state_dict": ...}`` or ``{"model": ...}``.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ToolkitError(
            f"timm checkpoint '{path}' does not exist; pass an existing .safetensors or .pth "
            "file as checkpoint (weights are never downloaded)."
        )
    state = _read_state_dict(file)
    classifier = getattr(model, "pretrained_cfg", {}).get("classifier") or ""
    names = [classifier] if isinstance(classifier, str) else list(classifier)
    prefixes = tuple(f"{c}." for c in names if c)
    first_conv = getattr(model, "pretrained_cfg", {}).get("first_conv") or ""
    own = model.state_dict()
    kept: dict[str, torch.Tensor] = {}
    mismatched = []
    for key, value in state.items():
        key = key.removeprefix("module.")  # saved from DataParallel/DDP
        if prefixes and key.startswith(prefixes):
            continue
        if key == f"{first_conv}.weight" and key in own and own[key].shape != value.shape:
            value = _adapt_input_conv(own[key], value)
        if key in own and own[key].shape != value.shape:
            mismatched.append(f"{key} {tuple(value.shape)} vs {tuple(own[key].shape)}")
            continue
        kept[key] = value
    if mismatched:
        raise ToolkitError(
            f"timm checkpoint '{path}' does not fit this model: {mismatched[0]}"
            f"{f' (and {len(mismatched) - 1} more)' if len(mismatched) > 1 else ''}; "
            "use a checkpoint of the same model and input channel count."
        )
    result = model.load_state_dict(kept, strict=False)
    if len(result.unexpected_keys) == len(kept):
        raise ToolkitError(
            f"timm checkpoint '{path}' has no weights for this model (no key matched); "
            "check that it was saved from the same timm model."
        )


def _adapt_input_conv(own: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    # An RGB checkpoint for a grayscale task (or 3 -> 4 channels): timm's own adaptation.
    from timm.models import adapt_input_conv

    if value.ndim != 4 or own.shape[0] != value.shape[0] or own.shape[2:] != value.shape[2:]:
        return value
    try:
        return adapt_input_conv(own.shape[1], value)
    except (NotImplementedError, AssertionError):  # a layout timm cannot convert
        return value


def _read_state_dict(file: Path) -> dict[str, torch.Tensor]:
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(file), device="cpu")
        else:
            state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt or foreign file: say which and why
        raise ToolkitError(
            f"cannot read checkpoint '{file}': {type(err).__name__}: {err}; "
            "pass a .safetensors file or a torch.save'd state dict."
        ) from None
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ToolkitError(
            f"checkpoint '{file}' is not a state dict of tensors; save model.state_dict()."
        )
    return state


def _unknown_model_message(name: str, all_names: list[str]) -> str:
    close = difflib.get_close_matches(name, all_names, n=5, cutoff=0.6)
    stem = name.split(".")[0][:4].lower()
    if not close and stem:
        close = [n for n in all_names if n.startswith(stem)][:5]
    hint = f"close timm names: {', '.join(close)}; " if close else ""
    return (
        f"unknown timm model '{name}'; {hint}python -c \"import timm; "
        f"print(timm.list_models('*pattern*'))\" lists them all."
    )
