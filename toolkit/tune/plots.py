"""A study's plots, drawn by Optuna's own matplotlib functions and labelled for this study.

Three kinds, each a PNG named ``<study>-<kind>.png``:

- ``history``: every trial's value and the best so far (optimisation history);
- ``intermediate``: each trial's value at each evaluation, what the pruner compared: the
  metric's validation value (and, in a maximised study, the kNN accuracy an embedding run reports
  during its encoder stage: the plot cannot tell which trials had one, so its label says both);
  a k-fold study's trials report once per fold (step = fold index from 0), labelled so;
- ``importance``: how much each parameter explains the value (fANOVA), only once
  :data:`MIN_IMPORTANCE_TRIALS` trials have finished: on fewer, the forest it fits is noise.

A kind that cannot be drawn yet is left out with a note saying why.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError

MIN_IMPORTANCE_TRIALS = 10  # complete trials before parameter importances mean anything
KINDS = ("history", "intermediate", "importance")


@dataclass(frozen=True)
class StudyPlots:
    """The PNGs written for a study, and why any kind was not drawn."""

    files: dict[str, Path] = field(default_factory=dict)  # kind -> PNG
    notes: dict[str, str] = field(default_factory=dict)  # kind -> why it is missing


def study_plots(study: Any, out: Path, metric: str, name: str | None = None) -> StudyPlots:
    """Draw the plots of the Optuna ``study``, which optimises ``metric``, into ``out``
    (``name`` prefixes the files; default: the study's)."""
    import matplotlib

    matplotlib.use("Agg")
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as ovm

    name = name or study.study_name
    metric = _metric_title(metric)
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        raise ToolkitError(f"study '{name}' has no complete trials to plot yet.")
    reported = [t for t in trials if t.intermediate_values]
    searched = {k for t in complete for k in t.params}

    files: dict[str, Path] = {}
    notes: dict[str, str] = {}
    out.mkdir(parents=True, exist_ok=True)

    def history(ax: Any) -> None:
        ax.set(title=f"{name}: {metric} of each trial", xlabel="trial", ylabel=f"val {metric}")
        _integer_ticks(ax.xaxis)

    files["history"] = _draw(
        out / f"{name}-history.png",
        lambda: ovm.plot_optimization_history(study, target_name=f"val {metric}"),
        history,
        name,
    )

    if reported:
        step, ylabel = intermediate_labels(study, metric)

        def intermediate(ax: Any) -> None:
            ax.set(
                title=f"{name}: {metric} at each {step} (what the pruner saw)",
                xlabel=step if step == "evaluation" else "fold (counted from 0)",
                ylabel=ylabel,
            )
            _integer_ticks(ax.xaxis)

        files["intermediate"] = _draw(
            out / f"{name}-intermediate.png",
            lambda: ovm.plot_intermediate_values(study),
            intermediate,
            name,
        )
    else:
        notes["intermediate"] = "no trial reported an evaluation yet"

    if len(complete) < MIN_IMPORTANCE_TRIALS:
        notes["importance"] = (
            f"parameter importance needs {MIN_IMPORTANCE_TRIALS} complete trials "
            f"(this study has {len(complete)}); tune more trials to see it"
        )
    elif not searched:
        notes["importance"] = "the study searches no parameter"
    else:

        def importance(ax: Any) -> None:
            ax.set(
                title=f"{name}: parameter importance for val {metric} ({len(complete)} trials)",
                xlabel=f"importance for val {metric} (fANOVA)",
            )

        try:
            files["importance"] = _draw(
                out / f"{name}-importance.png",
                lambda: ovm.plot_param_importances(study, target_name=f"val {metric}"),
                importance,
                name,
            )
        except ToolkitError as err:  # e.g. every trial drew the same values
            notes["importance"] = str(err)
    return StudyPlots(files, notes)


def intermediate_labels(study: Any, metric: str) -> tuple[str, str]:
    """What the trials of ``study`` reported (``metric`` is its title): ``(step, y label)``.

    A k-fold trial (:mod:`toolkit.tune.worker`'s ``on_fold``) reports each fold's value at
    step = fold index, from 0, where training reports evaluation 1, 2...: step ``"fold"``.
    Otherwise step ``"evaluation"``, and in a maximised study an embedding run's encoder stage
    reports kNN accuracy (a minimised one reports nothing there), so the label says so."""
    from optuna.study import StudyDirection

    trials = study.get_trials(deepcopy=False)
    if any(_reports_folds(t) for t in trials):
        return "fold", f"val {metric} of each fold"
    if study.direction == StudyDirection.MAXIMIZE:
        return "evaluation", f"val {metric} (kNN accuracy during an embedding encoder stage)"
    return "evaluation", f"val {metric}"


def _reports_folds(trial: Any) -> bool:
    """Whether ``trial`` is a cross-validation: pruned at a fold, scored with fold scores, or
    reporting step 0 (training's evaluations count from 1)."""
    attrs = trial.user_attrs
    metrics = attrs.get("metrics")
    return (
        "pruned_at_fold" in attrs
        or (isinstance(metrics, dict) and "fold_scores" in metrics)
        or 0 in trial.intermediate_values
    )


def _draw(path: Path, make: Callable[[], Any], label: Callable[[Any], None], name: str) -> Path:
    """Call Optuna's plotting function, label its axes, save the PNG atomically."""
    import matplotlib
    import matplotlib.pyplot as plt
    import optuna

    from toolkit import io

    # Optuna switches the global style to ggplot; keep that inside this plot.
    with matplotlib.rc_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        try:
            ax = make()
        except (ValueError, RuntimeError, optuna.exceptions.OptunaError) as err:
            raise ToolkitError(f"cannot plot study '{name}': {err}") from None
        ax = ax if hasattr(ax, "figure") else ax[0]
        label(ax)
        fig = ax.figure
        fig.set_size_inches(9, 5)
        fig.tight_layout()
        try:
            with io.atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=100, format="png")
        finally:
            plt.close(fig)
    return path


def _integer_ticks(axis: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _metric_title(metric: str) -> str:
    from toolkit.metrics import get_metric

    try:
        return str(get_metric(metric).title)
    except ToolkitError:
        return metric
