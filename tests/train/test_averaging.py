"""SWA-style averaging (average_last): the mean by hand, which weights a stage keeps, and a
tiny run whose checkpoint is the average when it scores better and the best weights when not."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from tests._runs import tiny_run
from tests.train._toy import toy_context, toy_stage
from toolkit.data import Competition
from toolkit.runs.checkpoint import read_tensors
from toolkit.train import TrainConfig
from toolkit.train.averaging import WeightAverage
from toolkit.train.loop import Context, Stage, fit

N = 64  # training rows of the toy stage


def _toy() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))


def _set(model: nn.Sequential, value: float, batches: int) -> dict[str, torch.Tensor]:
    """Every floating tensor of ``model`` filled with ``value``; its state, copied."""
    with torch.no_grad():
        for t in model.state_dict().values():
            t.fill_(value if t.is_floating_point() else batches)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_the_mean_is_the_hand_computed_one_over_the_last_n() -> None:
    model = _toy()
    average = WeightAverage(list(model), n=3)
    states = [_set(model, v, batches=10 * (i + 1)) for i, v in enumerate([1.0, 2.0, 4.0, 8.0])]
    for state in states:
        model.load_state_dict(state)
        average.add()
    assert len(average) == 3  # the first snapshot dropped out
    mean = dict(zip(model.state_dict(), average.mean(), strict=True))
    for key, value in mean.items():
        if value.is_floating_point():
            hand = (states[1][key] + states[2][key] + states[3][key]) / 3  # (2 + 4 + 8) / 3
            assert torch.allclose(value, hand)
            assert float(value.flatten()[0]) == pytest.approx(14 / 3)
        else:  # num_batches_tracked: the last snapshot's, still an integer
            assert value.dtype == torch.int64 and int(value) == 40


def test_applied_puts_the_mean_in_marks_batchnorm_stale_and_restores_exactly() -> None:
    model = _toy()
    average = WeightAverage(list(model), n=2)
    for value in (1.0, 3.0):
        model.load_state_dict(_set(model, value, batches=200))
        average.add()
    live = _set(model, 5.0, batches=300)
    with average.applied():
        assert float(model[0].weight.detach()[0, 0]) == pytest.approx(2.0)
        assert int(model[1].num_batches_tracked) == 0  # the evaluation recomputes statistics
        model[1].reset_running_stats()  # as an evaluation may
    for key, value in model.state_dict().items():
        assert torch.equal(value, live[key])


def test_an_average_needs_two_snapshots() -> None:
    with pytest.raises(ValueError):
        WeightAverage([nn.Linear(1, 1)], n=1)


# -- a stage of the loop with an average ------------------------------------------------------


def _stage(model: nn.Linear, score: Callable[[int], float | None], seen: list[float]) -> Stage:
    """A linear model fitting y = 2x over 4 evaluations; the i-th scoring (from 1, the average's
    scoring last) scores ``score(i)``; ``seen`` gets the weight each scoring saw."""

    def evaluate() -> dict[str, Any]:
        seen.append(float(model.weight.detach()))
        s = score(len(seen))
        return {"score": s, "value": s}

    return toy_stage(model, evaluate, n=N, epochs=4)  # 4 steps an epoch


def _context(reports: list[int], **config: Any) -> Context:
    def report(index: int, value: float) -> bool:
        reports.append(index)
        return False

    return toy_context(report, **config)


def _model() -> nn.Linear:
    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(0.0)
        model.bias.fill_(0.0)
    return model


def _fit(score: Callable[[int], float | None]) -> tuple[nn.Linear, list[float], Context, list]:
    model, seen, reports = _model(), [], []
    ctx = _context(reports, average_last=3)
    fit(_stage(model, score, seen), ctx)
    return model, seen, ctx, reports


def test_the_average_is_kept_when_it_scores_better() -> None:
    model, seen, ctx, reports = _fit(lambda i: 10.0 if i == 5 else float(i))
    assert len(seen) == 5 and ctx.evals == 4 and len(reports) == 4  # the 5th: no evaluation
    assert seen[4] == pytest.approx(sum(seen[1:4]) / 3)  # scored: the last 3 weights' mean
    assert ctx.averaging["head"] == {
        "n": 3,
        "averaged": 3,
        "kept": "average",
        "average_score": 10.0,
        "best_score": 4.0,
    }
    assert float(model.weight.detach()) == pytest.approx(seen[4])


def test_the_best_weights_stay_when_the_average_scores_worse() -> None:
    model, seen, ctx, _ = _fit(lambda i: -1.0 if i == 5 else float(i))
    record = ctx.averaging["head"]
    assert record["kept"] == "best" and record["average_score"] == -1.0
    assert float(model.weight.detach()) == pytest.approx(seen[3])  # the best: the 4th
    assert seen[3] != pytest.approx(seen[4])


def test_without_validation_the_average_is_kept() -> None:
    model, seen, ctx, reports = _fit(lambda i: None)
    assert ctx.averaging["head"] == {"n": 3, "averaged": 3, "kept": "average"}
    assert float(model.weight.detach()) == pytest.approx(sum(seen[1:4]) / 3)
    assert reports == []  # nothing reported without a value


# -- a tiny run (pixels + linear probe on digits) -----------------------------------------------


def _scored_by_call(
    monkeypatch: pytest.MonkeyPatch, average_wins: bool
) -> list[dict[str, torch.Tensor]]:
    """The head stage's scorer, wrapped: the i-th of the 5 evaluations (head_epochs=5) scores
    -(i - 3)^2, so the 3rd is the best; the 6th scoring, the average's, 100 or -100. Returns
    the head's state at each scoring."""
    from toolkit.train import stages

    original, states = stages._feature_scores, []

    def scorer(model: Any, splits: Any, setup: Any) -> dict[str, Any]:
        states.append({k: v.clone() for k, v in model.head.state_dict().items()})
        i = len(states)
        score = -(float(i - 3) ** 2) if i <= 5 else (100.0 if average_wins else -100.0)
        return {**original(model, splits, setup), "score": score, "value": score}

    monkeypatch.setattr(stages, "_feature_scores", scorer)
    return states


def _run(digits: Competition, runs_dir: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    path = tiny_run(digits, runs_root=runs_dir, average_last=3, head_epochs=5)
    record = json.loads((path / "run.json").read_text())
    weights = read_tensors(path / "checkpoint.safetensors")
    return record, {k.removeprefix("head."): v for k, v in weights.items() if "head." in k}


@pytest.mark.parametrize("average_wins", [True, False])
def test_a_run_saves_the_average_only_when_it_scores_better(
    digits: Competition, runs_dir: Path, monkeypatch: pytest.MonkeyPatch, average_wins: bool
) -> None:
    states = _scored_by_call(monkeypatch, average_wins)
    record, head = _run(digits, runs_dir)
    assert len(states) == 6 and record["evaluations"] == 5
    decision = record["average_last"]["head"]
    assert decision["n"] == decision["averaged"] == 3
    assert decision["best_score"] == 0.0  # the 3rd evaluation's
    assert decision["average_score"] == (100.0 if average_wins else -100.0)
    assert decision["kept"] == ("average" if average_wins else "best")
    mean = {k: sum(s[k] for s in states[2:5]) / 3 for k in ("fc.weight", "fc.bias")}
    for key in ("fc.weight", "fc.bias", "norm.running_mean", "norm.running_var"):
        assert torch.allclose(states[5][key], sum(s[key] for s in states[2:5]) / 3, atol=1e-6)
    if average_wins:  # what was scored is what was saved: the hand-computed mean
        for key, value in mean.items():
            assert torch.allclose(head[key], value, atol=1e-6)
    else:  # the best evaluation's weights (the 3rd), neither the last nor the mean
        for key in mean:
            assert torch.equal(head[key], states[2][key])
            assert not torch.equal(head[key], states[4][key])
            assert not torch.allclose(head[key], mean[key], atol=1e-6)


def test_a_run_records_scores_consistent_with_its_metrics(
    digits: Competition, runs_dir: Path
) -> None:
    record, _ = _run(digits, runs_dir)
    decision = record["average_last"]["head"]
    kept = decision["average_score" if decision["kept"] == "average" else "best_score"]
    assert kept == max(decision["average_score"], decision["best_score"])
    assert kept == pytest.approx(record["metrics"]["val_acc"], abs=1e-4)  # what was saved
    assert record["config"]["average_last"] == 3


def test_a_batchnorm_encoders_average_is_saved_with_statistics_of_its_own(
    digits: Competition, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fastnet fine-tuned, 3 evaluations; the average's scoring (the 4th) is made to win. Its
    BatchNorm statistics are recomputed for the averaged weights (not the snapshots' mean), and
    the run saves and reports exactly what was scored."""
    from toolkit.train import stages, train

    original, states, real = stages._image_scores, [], []

    def scorer(model: Any, splits: Any, setup: Any) -> dict[str, Any]:
        metrics = original(model, splits, setup)  # refreshes statistics that are not settled
        states.append({k: v.clone() for k, v in model.encoder.state_dict().items()})
        real.append(metrics["score"])
        return {**metrics, "score": 100.0} if len(states) == 4 else metrics

    monkeypatch.setattr(stages, "_image_scores", scorer)
    cfg = TrainConfig(
        encoder="fastnet", encoder_params={"width": 0.5}, epochs=2, eval_every=4, average_last=3
    )
    result = train(cfg, digits, quiet=True)
    record = json.loads((result.path / "run.json").read_text())
    assert len(states) == 4 and record["average_last"]["finetune"]["kept"] == "average"
    saved = read_tensors(result.path / "checkpoint.safetensors")
    encoder = {k.removeprefix("encoder."): v for k, v in saved.items() if "encoder." in k}
    means = [k for k in encoder if k.endswith("running_mean")]
    weights = [k for k in encoder if k.endswith(".weight")]
    for key in weights:  # the weights: the mean of the three evaluations'
        assert torch.allclose(encoder[key], sum(s[key] for s in states[:3]) / 3, atol=1e-5)
    for key in means:  # the statistics: recomputed for the average, as scored
        assert torch.equal(encoder[key], states[3][key])
    assert any(
        not torch.allclose(encoder[k], sum(s[k] for s in states[:3]) / 3, atol=1e-4) for k in means
    )
    assert record["metrics"]["val_acc"] == pytest.approx(real[3], abs=1e-4)
