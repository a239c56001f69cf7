"""Pruning: which Optuna pruner a study uses, and how many evaluations a trial plans.

A trial reports its validation score after every evaluation (by default once per epoch),
numbered 1, 2, ... up to its planned number of evaluations ``R``. The pruner compares those
reports across trials and stops the weak ones early. Two rules hold for every pruner:

- a trial is never pruned at its last planned evaluation: it has trained to the end, so
  stopping it there saves nothing and would throw away a finished result;
- the pruners that work in rungs (``asha``, ``hyperband``) get ``R`` from the study, so that
  their rungs sit inside the training, not on its end.

The default, ``asha``, is Optuna's :class:`~optuna.pruners.SuccessiveHalvingPruner`
(asynchronous successive halving) with reduction factor 3 and its first rung after about a
ninth of the training (``min_resource = max(1, R // 9)``; 1 evaluation when ``R`` is not known
for the whole study). A trial continues past a rung only when its score is in the top third of
the scores recorded at that rung so far, so about a ninth of the trials train to the end.
``hyperband`` runs several such brackets, one of which never prunes, and saves less;
``median`` prunes a trial whose best score so far is below the median of the completed trials
at the same evaluation.

Trials that are k-fold cross-validations (``folds = K``) report one score per fold instead,
numbered by fold (0..K-1), and use ``wilcoxon`` (their default): Optuna's
:class:`~optuna.pruners.WilcoxonPruner`, built for this, prunes a trial when a one-sided
Wilcoxon signed-rank test over the folds reported so far says it is worse than the best trial
(p < 0.1; with 5 folds that needs 4 folds all worse), and not while its mean is the better.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from toolkit.train.plan import planned_evaluations
from toolkit.tune.spec import DEFAULT_PRUNER, PRUNERS, StudySpec

__all__ = [
    "DEFAULT_PRUNER",
    "PRUNERS",
    "make_pruner",
    "may_prune",
    "planned_evaluations",
    "study_resources",
]

if TYPE_CHECKING:
    import optuna

    from toolkit.data import Competition

REDUCTION_FACTOR = 3  # asha and hyperband: a third of the trials go on at each rung
RUNGS_BELOW_END = 2  # asha: its first rung at R / 3**2, so two rungs fit before the end
WILCOXON_P = 0.1  # wilcoxon: prune when worse than the best at this p-value (Optuna's default)
MAX_PLANS = 64  # study_resources: searched length settings tried at most this many ways

# Training fields that change how many evaluations a trial makes (with the data's size).
LENGTH_KEYS = frozenset(
    {
        "epochs",
        "iterations",
        "budget",
        "eval_every",
        "batch_size",
        "head_epochs",
        "head_iterations",
        "head_batch_size",
        "classes",
        "val_fraction",
    }
)


def make_pruner(name: str, resources: Iterable[int] | None = None) -> optuna.pruners.BasePruner:
    """The Optuna pruner called ``name``.

    ``resources``: the planned evaluations a trial of the study may have
    (:func:`study_resources`), or ``None`` when they are not known before the trials run (a
    time budget); then ``hyperband`` finds its maximum from the first completed trial and
    ``asha`` starts at 1 evaluation. Otherwise ``asha`` puts its first rung at a ninth of the
    shortest trial and ``hyperband`` takes the longest as its maximum resource.
    """
    import optuna

    planned = sorted(set(resources)) if resources is not None else []
    if name == "asha":
        first = max(1, planned[0] // REDUCTION_FACTOR**RUNGS_BELOW_END) if planned else 1
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=first, reduction_factor=REDUCTION_FACTOR, min_early_stopping_rate=0
        )
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1,
            max_resource=planned[-1] if planned else "auto",
            reduction_factor=REDUCTION_FACTOR,
        )
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if name == "wilcoxon":
        import warnings

        with warnings.catch_warnings():  # "experimental" since Optuna 3.6; pinned by our range
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.WilcoxonPruner(p_threshold=WILCOXON_P)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {name!r}; valid: {', '.join(PRUNERS)}")


def may_prune(step: int, planned: int | None) -> bool:
    """Whether the pruner is asked at evaluation ``step`` (1-based) of ``planned``.

    Never at the last planned evaluation: the trial has trained to its end. ``planned`` is
    ``None`` when the trial's length is not known in advance (a time budget); then every
    evaluation may prune.
    """
    return planned is None or step < planned


def study_resources(spec: StudySpec, comp: Competition) -> list[int] | None:
    """The planned evaluations a trial of ``spec`` may have, sorted; ``None`` if not known.

    Each pipeline is planned with its fixed settings; a searched setting of
    :data:`LENGTH_KEYS` is tried at its bounds (every choice of a categorical), which covers
    the shortest and the longest trial because the plan grows or shrinks monotonically with
    each of them. Searched plugin parameters are taken at their defaults (they do not change
    the plan of the bundled plugins). Only the pruner's rungs depend on this: whether a trial
    is at its last evaluation is decided per trial, from its own config
    (:func:`toolkit.train.plan.planned_evaluations`, which asks the run's plan).
    """
    import itertools

    from toolkit.registry import Choice
    from toolkit.train.config import TrainConfig, apply_overrides, setting_key

    out: set[int] = set()
    for p in spec.pipelines:
        searched = {
            key: (dim.choices if isinstance(dim, Choice) else (dim.low, dim.high))
            for key, dim in p.space.items()
            if setting_key(key).section == "train" and setting_key(key).name in LENGTH_KEYS
        }
        corners = list(itertools.product(*searched.values()))
        if len(corners) > MAX_PLANS:
            return None
        base = apply_overrides(
            TrainConfig(encoder=p.encoder, loss=p.loss, head=p.head), {**spec.fixed, **p.fixed}
        )
        for values in corners:
            planned = planned_evaluations(
                apply_overrides(base, dict(zip(searched, values, strict=True))), comp
            )
            if planned is None:
                return None
            out.add(planned)
    return sorted(out)
