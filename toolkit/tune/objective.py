"""From an Optuna trial to a run config: pick the pipeline, suggest its settings."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from toolkit.train.compose import compose_config
from toolkit.tune.spec import Pipeline, StudySpec

if TYPE_CHECKING:
    import optuna

    from toolkit.train.config import TrainConfig

PIPELINE_PARAM = "pipeline"  # the categorical that chooses among several pipelines


def param_names(spec: StudySpec) -> dict[tuple[str, str], str]:
    """Optuna parameter name of each (pipeline label, setting).

    A setting keeps its plain name (``lr``, ``loss.margin``) unless two pipelines search it
    over different ranges; then each pipeline gets its own, ``<pipeline>/<setting>``, because
    Optuna needs one distribution per name.
    """
    ranges: dict[str, set[str]] = {}
    for p in spec.pipelines:
        for key, dim in p.space.items():
            ranges.setdefault(key, set()).add(repr(dim))
    return {
        (p.label, key): key if len(ranges[key]) == 1 else f"{p.label}/{key}"
        for p in spec.pipelines
        for key in p.space
    }


def trial_config(trial: optuna.Trial, spec: StudySpec) -> tuple[Pipeline, TrainConfig]:
    """The pipeline and full training config this trial runs."""
    if len(spec.pipelines) > 1:
        labels = [p.label for p in spec.pipelines]
        chosen = trial.suggest_categorical(PIPELINE_PARAM, labels)
        pipeline = spec.pipelines[labels.index(chosen)]
    else:
        pipeline = spec.pipelines[0]
    names = param_names(spec)
    settings = _fixed(spec, pipeline)
    for key, dim in pipeline.space.items():
        settings[key] = dim.suggest(trial, names[(pipeline.label, key)])
    config = _config(pipeline, settings)
    if config.tsne == "auto":  # no t-SNE per trial unless asked (tsne=on): it can cost more
        config = dataclasses.replace(config, tsne="off")  # than the trial's training
    return pipeline, config


def base_config(spec: StudySpec) -> TrainConfig:
    """The settings every trial shares (the first pipeline's plugins): what decides how the
    competition's images are loaded and which metric the study optimises."""
    pipeline = spec.pipelines[0]
    return _config(pipeline, _fixed(spec, pipeline))


def _fixed(spec: StudySpec, pipeline: Pipeline) -> dict[str, Any]:
    """The study's fixed settings, then the pipeline's, then the study's metric."""
    settings: dict[str, Any] = {**spec.fixed, **pipeline.fixed}
    if spec.metric:
        settings["metric"] = spec.metric
    return settings


def _config(pipeline: Pipeline, settings: dict[str, Any]) -> TrainConfig:
    return compose_config(
        encoder=pipeline.encoder, loss=pipeline.loss, head=pipeline.head, settings=settings
    )
