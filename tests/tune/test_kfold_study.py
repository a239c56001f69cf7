"""k-fold studies: ``folds`` in a study file, one report per fold, Optuna's WilcoxonPruner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from toolkit.errors import ToolkitError
from toolkit.tune import parse_spec
from toolkit.tune.pruning import make_pruner
from toolkit.tune.retention import prune_checkpoints
from toolkit.tune.spec import with_fixed
from toolkit.tune.worker import run_trial

PROBE = {"encoder": "pixels", "loss": "softmax-ce", "head": "linear-probe"}


def _spec(study: dict[str, Any], **pipeline: Any) -> Any:
    return parse_spec(
        {
            "study": {"sampler": "random", "seed": 0, **study},
            "fixed": {"head_epochs": 5, "threads": 1},
            "pipelines": [{**PROBE, "default_space": False, **pipeline}],
        },
        name="kfold",
    )


def test_folds_in_a_study_file_default_to_the_wilcoxon_pruner() -> None:
    spec = _spec({"folds": 5}, space={"head_lr": [0.3, 1e-6]})
    assert spec.fixed["folds"] == 5 and spec.pruner == "wilcoxon"
    assert isinstance(make_pruner("wilcoxon"), optuna.pruners.WilcoxonPruner)
    plain = _spec({}, space={"head_lr": [0.3]})
    assert plain.pruner == "asha"
    assert with_fixed(plain, {"folds": 3}).pruner == "wilcoxon"  # tk tune --set folds=3


@pytest.mark.parametrize(
    ("study", "pipeline", "message"),
    [
        ({"folds": 5, "pruner": "asha"}, {}, "report one score per fold"),
        ({"pruner": "wilcoxon"}, {}, "compares trials fold by fold"),
        ({}, {"space": {"folds": [2, 5]}}, "not a search"),
        ({"folds": 1}, {}, "folds must be 0"),
    ],
)
def test_k_fold_study_files_are_checked(
    study: dict[str, Any], pipeline: dict[str, Any], message: str
) -> None:
    with pytest.raises(ToolkitError, match=message):
        _spec(study, **{"space": {"head_lr": [0.3]}, **pipeline})


def test_wilcoxon_prunes_a_trial_made_worse_on_purpose(tune_env: Path, digits: Any) -> None:
    """Trial 0 learns (head_lr 0.3); trial 1 barely moves (1e-6) and is worse on every fold:
    after 4 of 5 folds the signed-rank test says so (p = 1/16 < 0.1) and it is pruned."""
    spec = _spec({"folds": 5}, space={"head_lr": [0.3, 1e-6]})
    study = optuna.create_study(direction="maximize", pruner=make_pruner(spec.pruner))
    study.enqueue_trial({"head_lr": 0.3})
    study.enqueue_trial({"head_lr": 1e-6})
    states = [run_trial(study, study.ask(), spec, digits, "memory", quiet=True) for _ in (0, 1)]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED]
    good, bad = study.trials
    assert sorted(good.intermediate_values) == [0, 1, 2, 3, 4]  # one report per fold
    assert good.value == pytest.approx(sum(good.intermediate_values.values()) / 5)
    assert bad.user_attrs["pruned_at_fold"] == 4 and sorted(bad.intermediate_values) == [
        0,
        1,
        2,
        3,
    ]
    assert all(bad.intermediate_values[k] < good.intermediate_values[k] for k in range(4))
    group = Path(bad.user_attrs["run_path"])
    record = json.loads((group / "run.json").read_text())
    assert record["status"] == "pruned" and len(record["folds"]) == 4
    # the study keeps the best trial's weights: every fold checkpoint of the pruned one goes
    removed = prune_checkpoints(study, keep=1)
    assert removed == [bad.user_attrs["run_id"]]
    assert not list(group.glob("*/checkpoint.safetensors"))
    kept = Path(good.user_attrs["run_path"])
    assert len(list(kept.glob("*/checkpoint.safetensors"))) == 5
