"""Pruning: the planned number of evaluations, no pruning at the last one, the pruners' rungs.

That the worker's hook applies the last-evaluation rule is in test_worker.py.
"""

from __future__ import annotations

from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from toolkit.train.config import TrainConfig
from toolkit.tune import parse_spec
from toolkit.tune.pruning import (
    DEFAULT_PRUNER,
    make_pruner,
    may_prune,
    planned_evaluations,
    study_resources,
)

PROBE = {"encoder": "pixels", "loss": "softmax-ce", "head": "linear-probe"}
FINETUNE = {"encoder": "fastnet", "loss": "softmax-ce", "head": "finetune"}
TRIPLET = {"encoder": "fastnet", "loss": "triplet", "head": "linear-probe"}
SMALL = {"encoder_params": {"width": 0.25}, "batch_size": 256}


@pytest.mark.parametrize(
    "settings",
    [
        {**PROBE, "head_epochs": 3},  # one evaluation per epoch
        {**PROBE, "head_epochs": 2, "eval_every": 7},  # 10 steps: at 7 and at the end
        {**PROBE, "head_iterations": 4, "classes": ("3", "5", "8")},  # 4 steps on 3 classes
        {**FINETUNE, **SMALL, "epochs": 1.5},  # 1.5 epochs: 2 evaluations
        {**FINETUNE, **SMALL, "epochs": 1, "eval_every": 2},  # 5 steps: at 2, 4 and 5
        {**TRIPLET, **SMALL, "epochs": 1, "head_epochs": 2},  # encoder stage, then head stage
    ],
    ids=["probe", "probe-every", "probe-iterations", "finetune", "finetune-every", "triplet"],
)
def test_planned_evaluations_match_the_training_loop(
    digits: Any, settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.train import train

    monkeypatch.setenv("TOOLKIT_THREADS", "1")
    config = TrainConfig(**{**settings, "threads": 1})
    reports: list[int] = []
    train(config, digits, save=False, quiet=True, report=lambda step, _v: reports.append(step))
    assert reports == list(range(1, len(reports) + 1))
    assert planned_evaluations(config, digits) == len(reports)


def test_planned_evaluations_is_unknown_under_a_budget_or_for_a_bad_config(digits: Any) -> None:
    assert planned_evaluations(TrainConfig(**PROBE, budget=30.0), digits) is None
    assert planned_evaluations(TrainConfig(**PROBE, classes=("3", "nosuch")), digits) is None


def test_never_pruned_at_the_last_evaluation() -> None:
    assert may_prune(1, 3) and may_prune(2, 3) and not may_prune(3, 3)
    assert may_prune(5, None)  # unknown length (a time budget): any evaluation may prune


def test_study_resources_cover_the_shortest_and_the_longest_trial(digits: Any) -> None:
    fixed = {"pipelines": [{**PROBE, "fixed": {"head_epochs": 9}}]}
    assert study_resources(parse_spec(fixed, name="f"), digits) == [9]
    searched = {
        "pipelines": [{**PROBE, "space": {"head_epochs": {"type": "int", "low": 3, "high": 9}}}]
    }
    assert study_resources(parse_spec(searched, name="s"), digits) == [3, 9]  # its bounds
    batch = {"pipelines": [{**PROBE, "space": {"head_batch_size": [64, 128, 256]}}]}
    assert study_resources(parse_spec(batch, name="b"), digits) == [30]  # once per epoch
    every = {"fixed": {"eval_every": 5}, **batch}  # 1,294 images: 5, 10 or 20 steps an epoch
    assert study_resources(parse_spec(every, name="e"), digits) == [30, 60, 120]
    budget = {"fixed": {"budget": 60}, **fixed}
    assert study_resources(parse_spec(budget, name="u"), digits) is None
    two = {
        "fixed": {"epochs": 2, "head_epochs": 4},
        "pipelines": [PROBE, {**FINETUNE, "fixed": {"encoder.width": 0.25}}],
    }
    assert study_resources(parse_spec(two, name="t"), digits) == [2, 4]


def test_pruner_rungs_sit_inside_the_planned_training() -> None:
    assert DEFAULT_PRUNER == "asha"
    asha = make_pruner("asha", [9])
    assert isinstance(asha, optuna.pruners.SuccessiveHalvingPruner)
    assert asha._min_resource == 1 and asha._reduction_factor == 3  # rungs at 1 and 3 of 9
    assert make_pruner("asha", [30, 90])._min_resource == 3  # rungs at 3, 9 and 27 of 30
    assert make_pruner("asha", None)._min_resource == 1
    hyperband = make_pruner("hyperband", [9, 27])
    assert isinstance(hyperband, optuna.pruners.HyperbandPruner)
    assert hyperband._max_resource == 27  # not Optuna's "auto" (last step + 1 = 28)
    assert make_pruner("hyperband", None)._max_resource == "auto"
    with pytest.raises(ValueError, match="unknown pruner"):
        make_pruner("magic")


def test_asha_prunes_weak_trials_early_and_never_at_the_end() -> None:
    """Curves replayed through the default pruner the way a worker reports them.

    Trial quality in a shuffled order (a sampler that only ever improved would make every
    new trial the best so far, and successive halving would promote them all).
    """
    study = optuna.create_study(direction="maximize", pruner=make_pruner("asha", [9]))
    order = [5, 2, 8, 0, 11, 3, 9, 6, 1, 10, 4, 7]
    trained = []
    for quality in order:
        curve = [quality / 12 + 0.01 * step for step in range(1, 10)]
        trial = study.ask()
        for step, value in enumerate(curve, start=1):
            trial.report(value, step)
            if may_prune(step, len(curve)) and trial.should_prune():
                study.tell(trial, state=TrialState.PRUNED)
                break
        else:
            study.tell(trial, curve[-1])
        trained.append(step)
    assert set(trained) == {1, 3, 9}  # pruned at the rungs (1 and 3) or trained to the end
    assert trained[order.index(11)] == 9  # the best trial is never cut
    assert sum(trained) <= 9 * len(order) / 2  # at least 2x fewer epochs
