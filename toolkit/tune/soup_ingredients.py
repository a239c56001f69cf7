"""A soup's ingredients: the runs offered to it, read and checked (:mod:`.soup` cooks them).

A run can join a soup when it completed, was validated on the same images as the best run
(:func:`check_split`, else the soup is refused: their scores would say nothing about each
other) and has the best run's architecture (:func:`same_architecture` on checkpoint.json,
:func:`shape_difference` on the weights; else it is left out, with the reason).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    import torch

    from toolkit.data import Competition
    from toolkit.runs.store import RunDir
    from toolkit.train.config import TrainConfig

# checkpoint.json's fields that make two runs' weights the same model (and the same inputs).
ARCHITECTURE = (
    "encoder",
    "encoder_params",
    "head",
    "head_params",
    "head_loss",
    "classes",
    "logits_dim",
    "in_channels",
    "image_size",
    "in_features",
    "normalizer",
)


@dataclass(frozen=True)
class Ingredient:
    """One run offered to the soup: its folder, run.json and checkpoint.json."""

    run: RunDir
    record: dict[str, Any]
    meta: dict[str, Any]


def read_ingredient(path: str | Path) -> Ingredient:
    """The run at ``path`` (a folder, id or prefix), which must have completed."""
    from toolkit.runs.checkpoint import read_meta
    from toolkit.runs.store import find_run

    run = find_run(str(path))
    record = run.read()
    if record.get("status") != "completed":
        raise ToolkitError(
            f"run {run.id} is {record.get('status')}; a soup averages completed runs only."
        )
    return Ingredient(run, record, read_meta(run))


def weights_of(ingredient: Ingredient) -> dict[str, torch.Tensor]:
    """The run's checkpoint tensors (CPU), checked against the hash checkpoint.json records."""
    from toolkit.runs.checkpoint import file_sha256, read_tensors
    from toolkit.runs.store import CHECKPOINT

    path = ingredient.run.file(CHECKPOINT)
    tensors = read_tensors(path)
    if file_sha256(path) != ingredient.meta.get("sha256"):
        raise ToolkitError(f"checkpoint of run {ingredient.run.id} does not match its hash.")
    return tensors


def same_architecture(
    ingredients: Sequence[Ingredient],
) -> tuple[list[Ingredient], list[dict[str, str]]]:
    """(the runs of the first one's architecture, first included; the others, each with why)."""
    best = ingredients[0]
    same, left_out = [best], []
    for other in ingredients[1:]:
        reason = _architecture_difference(best, other)
        if reason:
            left_out.append({"run_id": other.run.id, "reason": reason})
        else:
            same.append(other)
    if len(same) == 1:
        first = left_out[0]
        raise ToolkitError(
            f"no other run has the architecture of the best run {best.run.id} (run "
            f"{first['run_id']}: {first['reason']}); there is nothing to average."
        )
    return same, left_out


def _architecture_difference(best: Ingredient, other: Ingredient) -> str:
    """Why ``other``'s weights cannot be averaged with ``best``'s ("" when they can)."""
    for key in ARCHITECTURE:
        if best.meta.get(key) != other.meta.get(key):
            mine, theirs = (str(m.meta.get(key))[:60] for m in (best, other))
            return f"its {key} is {theirs}, not {mine}"
    return ""


def shape_difference(best: Mapping[str, torch.Tensor], other: Mapping[str, torch.Tensor]) -> str:
    """Why weights ``other`` do not fit ``best``'s names, shapes and types ("" when they do)."""
    if set(best) != set(other):
        extra = sorted(set(best) ^ set(other))
        return f"its weights are named otherwise (e.g. {extra[0]})"
    for key, value in best.items():
        if other[key].shape != value.shape or other[key].dtype != value.dtype:
            return f"its {key} is {tuple(other[key].shape)}, not {tuple(value.shape)}"
    return ""


def check_split(ingredients: Sequence[Ingredient]) -> None:
    """Refuse runs validated on other images than the first (their scores say nothing about
    each other), and runs without validation images (a soup is chosen on them)."""
    from toolkit.runs.noise import split_key

    best = ingredients[0]
    key = split_key(best.record)
    if key is None:
        raise ToolkitError(
            f"run {best.run.id} has no validation split (val_fraction = 0); a soup is chosen "
            "on validation: soup runs that held images out."
        )
    resize = (best.record.get("config") or {}).get("resize")
    for other in ingredients[1:]:
        theirs = (split_key(other.record), (other.record.get("config") or {}).get("resize"))
        if theirs != (key, resize):
            raise ToolkitError(
                f"run {other.run.id} was validated on other images than {best.run.id} "
                "(its data, val_fraction, folds/fold, seed, classes, resize or metric differ); "
                "a soup's runs must share the validation split: soup runs of one study."
            )


def known_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings this version knows (a run of another version may have more)."""
    from toolkit.train.config import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return {k: v for k, v in config.items() if k in names}


# -- what the soup is scored on ------------------------------------------------------------------


def competition_of(config: TrainConfig, best: Ingredient) -> Competition:
    """The best run's competition, with images of the size it trained on."""
    from toolkit.data import load_competition
    from toolkit.train.task import load_for

    where = best.record.get("competition_path")
    if not where or not Path(where).exists():
        raise ToolkitError(
            f"run {best.run.id}'s competition folder {where} is gone; the soup is scored on its "
            "validation images: put the folder back."
        )
    comp = load_for(config, where)
    size = int(best.meta["image_size"])
    if comp.image_size != size:
        comp = load_competition(where, image_size=size, resize=config.resize)
    if comp.fingerprint != best.record.get("data_fingerprint"):
        print(
            f"warning: {where} changed since run {best.run.id} trained (data fingerprint); "
            "the soup is scored on its files as they are now.",
            file=sys.stderr,
        )
    return comp
