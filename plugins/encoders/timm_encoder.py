"""``timm:<model>``: any timm model as an encoder, from scratch, pretrained or from a local file.

Weights are never downloaded. ``pretrained=True`` reads the weights timm would use from where
timm leaves them on a machine with internet: the Hugging Face hub cache (``$HF_HUB_CACHE``, else
``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``), or torch's hub cache for the few models
whose weights are only a URL. ``checkpoint`` names a local file instead (and wins). timm is
imported inside the functions because importing it takes seconds.

Who calls what: the core builds the encoder through the registry, which checks the Encoder
contract (``out_dim``). The optional traits of :mod:`toolkit.registry.contracts` are all here,
read by the core through that module's accessors: a model with loaded weights carries
``data_config`` (the mean/std the core normalises with); ``timm_encoder.preferred_image_size``
is asked before data is loaded; the parameters named in ``timm_encoder.weight_source_params``
are left out when a model is rebuilt from a run's own checkpoint.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlparse

import torch
from torch import nn

from toolkit.errors import ToolkitError
from toolkit.registry import Float, encoders

# Files a timm repo on the hub may hold, for a cfg without hf_hub_filename: safetensors first.
HUB_FILES = ("model.safetensors", "pytorch_model.bin")
SAFE_ALTERNATIVE = {"open_clip_pytorch_model.bin": "open_clip_model.safetensors"}


class DataConfig(TypedDict):
    """What loaded weights expect of their input; the core normalises with mean/std."""

    mean: tuple[float, ...]  # one per input channel, in [0, 1] units
    std: tuple[float, ...]  # one per input channel, in [0, 1] units
    input_size: int  # the side (pixels) the weights were trained at
    source: str  # "hf-cache:<repo id>" or "file:<path>"


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
    pretrained: bool = False,  # timm's weights, from the local hub cache only; checkpoint wins
) -> nn.Module:
    """Any timm model (timm:<name>) without its classifier; weights only from local files."""
    stay_offline()
    import timm

    name = _model_name(timm, variant)
    source = ""
    if checkpoint:
        model = _create(timm, name, in_channels, image_size)
        load_checkpoint(model, checkpoint)
        source = f"file:{Path(checkpoint).expanduser().absolute()}"
    elif pretrained:
        weights, source = find_pretrained_weights(name)
        with warnings.catch_warnings():  # torch's multi-line advice: our message says it once
            warnings.simplefilter("ignore")
            try:
                model = _create(timm, name, in_channels, image_size, weights=weights)
            except Exception as err:  # a corrupt, foreign or pickled file: one line of ours
                raise _unreadable(weights, err) from None
    else:
        model = _create(timm, name, in_channels, image_size)
    # The Encoder contract: forward() returns pooled (B, num_features) features.
    model.out_dim = int(model.num_features)
    data_config: DataConfig | None = None
    if source:
        data_config = _data_config(model, in_channels, source)
    model.data_config = data_config  # optional trait: statistics of the loaded weights
    return model


def preferred_image_size(
    variant: str = "resnet18", pretrained: bool = False, checkpoint: str = ""
) -> int | None:
    """The input side the weights of ``timm:<variant>`` were trained at, if any will be loaded.

    Builds no model and reads no weights (the core calls it before loading data): the size
    comes from timm's pretrained cfg, e.g. 224 for resnet18. None when the model starts from
    random weights or its cfg names no size.
    """
    if not (pretrained or checkpoint):
        return None
    stay_offline()
    import timm

    name = _model_name(timm, variant)
    cfg = _pretrained_cfg(timm, name, need_weights=not checkpoint)
    size = getattr(cfg, "input_size", None)
    return int(size[-1]) if size else None


timm_encoder.preferred_image_size = preferred_image_size  # type: ignore[attr-defined]
# Parameters that name where the starting weights come from: a model rebuilt from a run's own
# checkpoint (which holds every weight) is created without them.
timm_encoder.weight_source_params = ("checkpoint", "pretrained")  # type: ignore[attr-defined]


def stay_offline() -> None:
    """Make sure no Hugging Face hub call can reach the network (this machine has none)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:  # imported earlier: it read the environment already
        constants.HF_HUB_OFFLINE = True


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache folder, resolved the way huggingface_hub does."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    home = os.environ.get("HF_HOME")
    if not home:
        home = str(Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface"))
    return Path(home, "hub").expanduser()


def find_pretrained_weights(name: str) -> tuple[Path, str]:
    """(local file, data_config source) of timm's pretrained weights for ``name``; no network."""
    stay_offline()
    import timm
    from huggingface_hub import try_to_load_from_cache

    cfg = _pretrained_cfg(timm, name, need_weights=True)
    cache = hub_cache_dir()
    looked, copy = [], []
    if cfg.hf_hub_id:
        repo, _, revision = cfg.hf_hub_id.partition("@")
        for filename in _hub_filenames(cfg.hf_hub_filename):
            found = try_to_load_from_cache(
                repo, filename, cache_dir=cache, revision=revision or None
            )
            if isinstance(found, str):  # else None or "known not to exist"
                return Path(found), f"hf-cache:{repo}"
        folder = cache / f"models--{repo.replace('/', '--')}"
        looked.append(f"{folder} (Hugging Face repo {repo})")
        copy.append(f"its {folder.name} folder of the hub cache into {cache}")
    if cfg.url:  # where timm's URL download would have put it
        file = Path(torch.hub.get_dir(), "checkpoints", Path(urlparse(cfg.url).path).name)
        if file.is_file():
            return file, f"file:{file}"
        looked.append(str(file))
        copy.append(f"the {file.name} of its torch hub cache into {file.parent}")
    raise ToolkitError(
        f"no pretrained weights for timm model '{name}' on this machine (looked in "
        f"{' and '.join(looked)}); weights are never downloaded: on a machine with internet run "
        f"python -c \"import timm; timm.create_model('{name}', pretrained=True)\" and copy "
        f"{copy[0]}, or pass encoder.checkpoint=FILE."
    )


def _model_name(timm: Any, variant: str) -> str:
    name = variant.strip()
    if not name or not timm.is_model(name):
        raise ToolkitError(_unknown_model_message(name, timm.list_models()))
    return name


def _pretrained_cfg(timm: Any, name: str, need_weights: bool) -> Any:
    """timm's pretrained cfg for ``name`` (tag included); raises when weights are needed and
    timm knows of none."""
    arch = name.split(".")[0]
    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except RuntimeError:  # "resnet18.no_such_tag"
        cfg = None
    if need_weights and (cfg is None or not (cfg.hf_hub_id or cfg.url)):
        tags = timm.list_pretrained(f"{arch}.*")
        hint = f" ({arch} has: {', '.join(tags[:5])})" if tags else ""
        raise ToolkitError(
            f"timm has no pretrained weights for '{name}'{hint}; pick a name that "
            f"python -c \"import timm; print(timm.list_pretrained('{arch[:4]}*'))\" lists, "
            "pass encoder.checkpoint=FILE, or drop encoder.pretrained."
        )
    return cfg


def _hub_filenames(wanted: str | None) -> tuple[str, ...]:
    """The files timm would fetch from the repo, safetensors first (as timm's loader does)."""
    if not wanted:
        return HUB_FILES
    if wanted.endswith(".bin"):
        return (SAFE_ALTERNATIVE.get(wanted, wanted.removesuffix(".bin") + ".safetensors"), wanted)
    return (wanted,)


def _create(
    timm: Any, name: str, in_channels: int, image_size: int, weights: Path | None = None
) -> nn.Module:
    kwargs: dict[str, Any] = {"pretrained": False, "num_classes": 0, "in_chans": in_channels}
    if weights is not None:
        # timm loads the local file itself: its filter adapts old layouts and position
        # embeddings, the first conv to in_chans, and drops the classifier (num_classes=0).
        kwargs["pretrained"] = True
        kwargs["pretrained_cfg_overlay"] = {
            "file": str(weights),
            "custom_load": weights.suffix == ".npz",  # original big_vision .npz weights
        }
    try:
        # Models with a fixed input grid (ViTs, MLP-Mixers) must be told the image size.
        return timm.create_model(name, img_size=image_size, **kwargs)
    except TypeError as err:
        if "img_size" not in str(err):
            raise
    return timm.create_model(name, **kwargs)


def _data_config(model: nn.Module, in_channels: int, source: str) -> DataConfig:
    from timm.data import resolve_data_config

    cfg = resolve_data_config({}, model=model)
    return DataConfig(
        mean=_per_channel(cfg["mean"], in_channels),
        std=_per_channel(cfg["std"], in_channels),
        input_size=int(cfg["input_size"][-1]),
        source=source,
    )


def _per_channel(values: Any, channels: int) -> tuple[float, ...]:
    """RGB statistics for ``channels`` inputs: their mean for grayscale, cycled for more
    (as timm's adapt_input_conv repeats the RGB filters)."""
    rgb = [float(v) for v in values]
    if channels == len(rgb):
        return tuple(rgb)
    if channels == 1:
        return (sum(rgb) / len(rgb),)
    return tuple(rgb[i % len(rgb)] for i in range(channels))


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
            with warnings.catch_warnings():  # torch's multi-line advice: ours is one line
                warnings.simplefilter("ignore")
                state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt, foreign or pickled file: say which and why
        raise _unreadable(file, err) from None
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ToolkitError(
            f"checkpoint '{file}' is not a state dict of tensors; save model.state_dict()."
        )
    return state


def _unreadable(file: Path, err: Exception) -> ToolkitError:
    """One line for a weights file that cannot be read, without torch's advice to unpickle."""
    text = " ".join(str(err).split())
    # torch's refusal ("Weights only load failed"), or timm's RuntimeError wrapping it, ends
    # with advice to load with weights_only=False: never ours to give.
    if "weights only load failed" in text.lower() or "weights_only" in text:
        found = re.search(r"(?:GLOBAL|Unsupported globals:) ([\w.]+)", text)
        if found:
            return ToolkitError(
                f"checkpoint '{file}' holds Python objects besides tensors "
                f"({found.group(1).rstrip('.')}), and the toolkit never unpickles code; on a "
                "machine you trust, save its tensors with safetensors.torch.save_file("
                "state_dict, 'weights.safetensors') and pass that file."
            )
        text = "not a torch.save'd state dict of tensors (corrupt, truncated or foreign)"
    return ToolkitError(
        f"cannot read checkpoint '{file}': {type(err).__name__}: {text[:300]}; "
        "pass a .safetensors file or a torch.save'd state dict of the same model."
    )


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
