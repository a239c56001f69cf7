"""Reading studies back: summaries, trial tables, the best runs, and plots."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import ToolkitError
from toolkit.tune.storage import (
    default_url,
    is_journal,
    journal_path,
    list_storage_urls,
    open_storage,
    redact,
)

if TYPE_CHECKING:
    from toolkit.tune.plots import StudyPlots


def list_studies(storage: str | None = None) -> list[dict[str, Any]]:
    """One summary per study in ``storage`` (default: every journal in the studies folder)."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = []
    for url in [storage] if storage else list_storage_urls():
        if is_journal(url) and not journal_path(url).exists():  # opening would create it
            raise ToolkitError(f"no study storage at {journal_path(url)}; check --storage.")
        store = open_storage(url)
        for summary in optuna.get_all_study_summaries(store, include_best_trial=False):
            study = optuna.load_study(study_name=summary.study_name, storage=store)
            trials = study.get_trials(deepcopy=False)
            count = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
            best = _best(trials, _maximized(study))
            out.append(
                {
                    "name": summary.study_name,
                    "storage": storage_text(url),
                    "metric": study_metric(study),
                    "direction": "maximize" if _maximized(study) else "minimize",
                    "trials": len(trials),
                    **count,
                    "best_value": best.value if best else None,
                    "best_trial": best.number if best else None,
                    "best_params": best.params if best else {},
                }
            )
    return out


def storage_text(url: str) -> str:
    """A storage as it is shown: what ``tk --storage``, Optuna's CLI (``optuna ... --storage``)
    and ``optuna-dashboard`` all accept. A journal is its plain file path (they open an
    existing file as a journal); a database URL has its password redacted."""
    return str(journal_path(url)) if is_journal(url) else redact(url)


def load(name: str, storage: str | None = None) -> Any:
    """The Optuna study ``name`` (default storage: its journal file)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage or default_url(name)
    if is_journal(url) and not journal_path(url).exists():  # opening would create it
        raise ToolkitError(
            f"unknown study '{name}' (no {journal_path(url)}); 'tk study list' shows "
            "the studies, or pass --storage URL."
        )
    try:
        return optuna.load_study(study_name=name, storage=open_storage(url))
    except KeyError:
        raise ToolkitError(
            f"unknown study '{name}' in {redact(url)}; 'tk study list --storage ...' shows them."
        ) from None


def trial_rows(name: str, storage: str | None = None) -> list[dict[str, Any]]:
    """One dict per trial: number, state, params, value, duration, pruned at, run id."""
    study = load(name, storage)
    trials = study.get_trials(deepcopy=False)
    best = _best(trials, _maximized(study))
    metric = study_metric(study)
    rows = []
    for t in trials:
        duration = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None
        )
        rows.append(
            {
                "number": t.number,
                "state": t.state.name.lower(),
                "value": t.value,
                "metric": metric,
                "params": t.params,
                "duration_s": duration,
                "pruned_at_eval": t.user_attrs.get("pruned_at_eval"),
                "run_id": t.user_attrs.get("run_id"),
                "pipeline": t.user_attrs.get("pipeline"),
                "error": t.user_attrs.get("error"),
                "best": best is not None and t.number == best.number,
            }
        )
    return rows


def top_runs(study: str, storage: str | None = None, k: int = 1) -> list[str]:
    """Run folders of the ``k`` best complete trials that still have a checkpoint, best first."""
    from optuna.trial import TrialState

    from toolkit.runs.cv import has_weights

    s = load(study, storage)
    complete = sorted(
        (
            t
            for t in s.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None and t.user_attrs.get("run_path")
        ),
        key=lambda t: t.value,
        reverse=_maximized(s),
    )
    paths = [
        t.user_attrs["run_path"]
        for t in complete
        if has_weights(Path(t.user_attrs["run_path"]))  # a cross-validation's: every fold
    ]
    if not paths:
        raise ToolkitError(
            f"study '{study}' has no complete trial with a checkpoint yet; run 'tk tune' first."
        )
    return paths[:k]


def plot(name: str, out: Path, storage: str | None = None) -> StudyPlots:
    """Write the study's plots into ``out`` (:mod:`toolkit.tune.plots`): optimisation history,
    intermediate values, and parameter importance once enough trials finished."""
    from toolkit.tune.plots import study_plots

    study = load(name, storage)
    return study_plots(study, out, study_metric(study), name)


def _best(trials: list[Any], maximize: bool = True) -> Any:
    from optuna.trial import TrialState

    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not done:
        return None
    return max(done, key=lambda t: t.value) if maximize else min(done, key=lambda t: t.value)


def _maximized(study: Any) -> bool:
    from optuna.study import StudyDirection

    return bool(study.direction == StudyDirection.MAXIMIZE)


def study_metric(study: Any) -> str:
    """The metric a study optimises (accuracy for studies made before metrics existed)."""
    return str(study.user_attrs.get("metric", "accuracy"))
