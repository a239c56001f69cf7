"""The ``folds`` of a study: every trial a K-fold cross-validation (``[study] folds = K``).

A k-fold trial reports one validation score per fold (numbered 0..K-1) instead of one per
evaluation, so a study has one K for all its pipelines (trials are compared fold by fold, by
Optuna's ``WilcoxonPruner``: :mod:`toolkit.tune.pruning`), and K is never searched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.registry import Dimension

FOLD_PRUNERS = ("wilcoxon", "none")  # a k-fold trial reports one score per fold


def study_folds(fixed: Mapping[str, Any], pipeline_fixed: Iterable[Mapping[str, Any]]) -> int:
    """K of a study's k-fold trials (its ``folds`` setting: ``fixed`` with each pipeline's
    ``pipeline_fixed`` over it), 0 when trials hold out a split."""
    from toolkit.train.config import TrainConfig, apply_overrides

    return max(apply_overrides(TrainConfig(), {**fixed, **p}).folds for p in pipeline_fixed)


def spec_folds(
    fixed: Mapping[str, Any],
    pipelines: Sequence[Any],  # toolkit.tune.spec.Pipeline (fixed, space)
    space: Mapping[str, Dimension],
    where: str,
) -> int:
    """The study's ``folds``: one K for every pipeline (a trial's folds are compared with the
    best trial's, fold by fold), never searched."""
    from toolkit.train.config import TrainConfig, apply_overrides

    if "folds" in space or any("folds" in p.space for p in pipelines):
        raise ToolkitError(
            f"{where}: folds is fixed for a study (set it in [study]), not a search."
        )
    found = {apply_overrides(TrainConfig(), {**fixed, **p.fixed}).folds for p in pipelines}
    if len(found) > 1:
        raise ToolkitError(
            f"{where}: pipelines use different folds ({sorted(found)}); trials are compared "
            "fold by fold, so set one folds for the study in [study]."
        )
    return found.pop()


def check_fold_pruner(pruner: str, folds: int, where: str) -> None:
    """k-fold trials need a pruner that compares them fold by fold (or none); the wilcoxon
    pruner needs k-fold trials."""
    if folds >= 2 and pruner not in FOLD_PRUNERS:
        raise ToolkitError(
            f"{where}: k-fold trials (folds = {folds}) report one score per fold, which "
            f'{pruner} cannot compare; use pruner = "wilcoxon" (the default with folds) or '
            '"none".'
        )
    if pruner == "wilcoxon" and folds < 2:
        raise ToolkitError(
            f"{where}: the wilcoxon pruner compares trials fold by fold; set folds = K (e.g. 5) "
            "in [study], or choose asha, hyperband, median or none."
        )
