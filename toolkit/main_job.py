"""The main job, ``tk run``: data check -> small study -> best model -> submission -> score.

Each step is a library call of its own stage; this module only strings them together.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError

# Contrastive + probe vs fine-tune: studies/compare.toml if the working folder has one, else
# the example shipped with the toolkit (toolkit.tune.study_files.find_study).
DEFAULT_STUDY = "compare"
TUNE_SHARE = 0.85  # of a --budget: the study's; the rest predicts, writes and scores


@dataclass(frozen=True)
class MainJobResult:
    """What ``tk run`` did, for its tables and for tests."""

    competition: Any  # toolkit.data.Competition
    study: str
    storage: str | None
    best_run: str
    submission: Path
    provenance: Path
    test_score: float | None  # the metric on the answer key, when the competition has one
    metric: str = "accuracy"  # the metric the study optimised and the submission reports


def run_main_job(
    competition: Any,
    *,
    study_file: str | Path = DEFAULT_STUDY,
    trials: int | None = None,
    workers: int = 1,
    storage: str | None = None,
    quiet: bool = False,
    metric: str | None = None,
    budget: float | None = None,
) -> MainJobResult:
    """Tune ``study_file`` (a path or a study's name) on ``competition``, submit the best
    trial, score it if possible.

    The study is named ``<study>-<competition>`` so a rerun resumes it instead of starting over.
    ``metric`` overrides the study's (default: the competition's, from its submission shape).
    ``budget`` (seconds) bounds the whole job: each trial gets an equal share of
    :data:`TUNE_SHARE` of it as its own budget, and no trial starts after that share.
    """
    import dataclasses

    from toolkit.submit import make_submission, score_submission
    from toolkit.tune import load_spec, top_runs, tune, with_fixed

    base = load_spec(study_file)
    name = f"{base.name}-{competition.name}"
    overrides: dict[str, Any] = {"trials": trials, "name": name}
    if budget is not None:
        if not budget > 0:
            raise ToolkitError(f"--budget must be positive, got {budget}.")
        overrides["timeout"] = budget * TUNE_SHARE
    spec = load_spec(study_file, overrides=overrides)
    if budget is not None:
        per_trial = budget * TUNE_SHARE / (spec.trials / max(workers, 1))
        spec = with_fixed(spec, {"budget": per_trial})
    if metric:
        spec = dataclasses.replace(spec, metric=metric)
    tune(spec, str(competition.root), storage=storage, workers=workers, quiet=quiet)
    best = top_runs(spec.name, storage, k=1)
    result = make_submission(best, competition, study=spec.name, storage=storage)
    score = score_submission(result.csv_path) if competition.y_test is not None else None
    return MainJobResult(
        competition=competition,
        study=spec.name,
        storage=storage,
        best_run=best[0],
        submission=result.csv_path,
        provenance=result.json_path,
        test_score=None if score is None else score.value,
        metric=str(result.provenance.get("metric", "accuracy")),
    )


@contextlib.contextmanager
def removed_on_failure(path: Path) -> Iterator[None]:
    """Run the block; if it fails (an error, Ctrl-C), remove ``path`` and the folders above it
    that did not exist before the block, so a failed job leaves no folder it made behind."""
    made = [p for p in (path, *path.parents) if not p.exists()]  # path first, if any
    try:
        yield
    except BaseException:
        if made:
            shutil.rmtree(path, ignore_errors=True)
            for folder in made[1:]:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if empty: something else may have written there
        raise
