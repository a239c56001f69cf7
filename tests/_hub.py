"""A pretend Hugging Face hub download: tiny timm weights cached the way the hub caches them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

TINY = "test_resnet"  # a timm test model (0.4M parameters) whose weights live on the hub
REPO = "timm/test_resnet.r160_in1k"  # its pretrained cfg's hf_hub_id
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def pretend_downloaded(cache: Path, repo: str = REPO, name: str = TINY) -> dict[str, Any]:
    """Random full-model weights (classifier included), cached as a hub download would be."""
    import timm

    torch.manual_seed(3)
    source = timm.create_model(name, pretrained=False)
    with torch.no_grad():
        for p in source.parameters():
            p.normal_()
        for key, buf in source.named_buffers():
            if key.endswith(("running_mean", "running_var")):
                buf.uniform_(0.5, 1.5)
    state = {k: v.detach().clone().contiguous() for k, v in source.state_dict().items()}
    folder = cache / f"models--{repo.replace('/', '--')}"
    snapshot = folder / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    save_file(state, str(snapshot / "model.safetensors"))
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(COMMIT)
    return state
