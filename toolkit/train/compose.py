"""Composing a run's config: a recipe, then plugins, then settings, in the order they win.

``tk train``, ``tk data check``, ``tk run`` and every trial of a study build their
:class:`~toolkit.train.config.TrainConfig` with :func:`compose_config`. A recipe's plugins and
settings come first; a plugin named explicitly replaces the recipe's (and drops the recipe's
parameters for that plugin); settings (``--set``, a study's ``[fixed]`` and suggested values)
come last. Command-line flags become settings with :func:`command_line_settings`, so
``--budget 10m`` and ``--set budget=10m`` are read by the same parser.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from toolkit.train.config import TrainConfig, apply_overrides, parse_overrides
from toolkit.train.durations import parse_duration


def compose_config(
    *,
    recipe: str | None = None,
    encoder: str | None = None,
    loss: str | None = None,
    head: str | None = None,
    settings: Mapping[str, Any] | None = None,
    base: TrainConfig | None = None,
) -> TrainConfig:
    """The :class:`TrainConfig` that ``recipe``, the plugins and ``settings`` describe.

    ``base`` (default: the defaults, or the recipe's plugins) is the config to start from.
    ``settings`` are setting keys (``lr``, ``data.image_size``, ``loss.margin``, ``budget``
    as seconds or ``10m``) and values, applied with :func:`~toolkit.train.config.apply_overrides`.
    """
    overrides: dict[str, Any] = {}
    if recipe is not None:
        from toolkit.train.recipes import get_recipe

        chosen = get_recipe(recipe)
        base = base or TrainConfig(encoder=chosen.encoder, loss=chosen.loss, head=chosen.head)
        overrides.update(chosen.overrides(encoder=encoder, loss=loss, head=head))
    base = base or TrainConfig()
    config = dataclasses.replace(
        base, encoder=encoder or base.encoder, loss=loss or base.loss, head=head or base.head
    )
    overrides.update(settings or {})
    return apply_overrides(config, overrides)


def command_line_settings(
    pairs: Sequence[str] = (), *, budget: str | float | None = None, metric: str | None = None
) -> dict[str, Any]:
    """Settings from command-line flags: ``--set key=value`` pairs, then ``--budget`` and
    ``--metric``, which win over a ``--set`` of the same key."""
    settings: dict[str, Any] = dict(parse_overrides(list(pairs)))
    if budget is not None:
        settings["budget"] = parse_duration(budget) if isinstance(budget, str) else float(budget)
    if metric is not None:
        settings["metric"] = metric
    return settings
