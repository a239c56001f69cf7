"""Keep the checkpoints of a study's best trials only, so disks do not fill."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.runs.cv import weight_files

if TYPE_CHECKING:
    import optuna


def prune_checkpoints(study: optuna.Study, keep: int) -> list[str]:
    """Delete checkpoint weights of every trial but the ``keep`` best complete ones.

    Run folders (config, metrics, plots) stay; returns the run ids whose weights were removed.
    """
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = sorted(  # best first, in the study's direction (log loss: lowest first)
        (t for t in trials if t.state == TrialState.COMPLETE and t.value is not None),
        key=lambda t: t.value,
        reverse=study.direction == StudyDirection.MAXIMIZE,
    )
    kept = {t.number for t in complete[:keep]}
    removed = []
    for t in trials:
        if t.number in kept or t.state in (TrialState.RUNNING, TrialState.WAITING):
            continue
        path = t.user_attrs.get("run_path")
        if not path:
            continue
        gone = False
        for weights in weight_files(Path(path)):  # a cross-validation's: one per fold
            if weights.exists():
                with contextlib.suppress(FileNotFoundError):
                    weights.unlink()
                gone = True
        if gone:
            removed.append(str(t.user_attrs.get("run_id", path)))
    return removed
