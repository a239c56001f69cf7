"""A study's plots: Optuna's own, titled with the study and its metric, integer trial and
evaluation ticks, intermediate values, and parameter importance once enough trials finished."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tune.conftest import tune_env  # noqa: F401  (fixture)


def make_study(
    name: str,
    complete: int,
    *,
    metric: str = "log_loss",
    pruned: int = 1,
    user_attrs: dict[str, Any] | None = None,
    folds: bool = False,
) -> Any:
    """A journal study with ``complete`` finished and ``pruned`` pruned trials (no training);
    ``user_attrs`` go on every complete trial (a run id and path). ``folds``: the trials report
    as k-fold trials do, one value per fold at step = fold index (from 0), and a pruned trial
    records the folds it ran (``pruned_at_fold``)."""
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution
    from optuna.trial import TrialState, create_trial

    from toolkit.tune.storage import default_url, open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=name,
        storage=open_storage(default_url(name)),
        direction="minimize" if metric == "log_loss" else "maximize",
    )
    study.set_user_attr("metric", metric)
    dists = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "width": IntDistribution(1, 8)}
    for i in range(complete + pruned):
        lr, width = 10 ** (-4 + 3 * ((i * 7) % 11) / 10), 1 + (i * 3) % 8
        steps = range(3) if folds else range(1, 4)
        curve = {step: 1.0 / (step + 1 + lr * 10 + width) for step in steps}
        done = i < complete
        last, first = max(steps), min(steps)
        pruned_attrs = {"pruned_at_fold": first + 1} if folds else {}
        study.add_trial(
            create_trial(
                state=TrialState.COMPLETE if done else TrialState.PRUNED,
                value=curve[last] if done else None,
                params={"lr": lr, "width": width},
                distributions=dists,
                intermediate_values=curve if done else {first: curve[first]},
                user_attrs=(user_attrs or {}) if done else pruned_attrs,
            )
        )
    return study


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """What each saved figure shows: titles, axis labels, x tick labels (by file name)."""
    from matplotlib.figure import Figure

    seen: dict[str, dict[str, Any]] = {}
    original = Figure.savefig

    def savefig(fig: Figure, fname: Any, *args: Any, **kwargs: Any) -> Any:
        ax = fig.axes[0]
        fig.canvas.draw()
        ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        seen[Path(fname).name.lstrip(".")] = {  # atomic writes save to .NAME.XXXX.tmp
            "title": ax.get_title(),
            "xlabel": ax.get_xlabel(),
            "ylabel": ax.get_ylabel(),
            "xticks": ticks,
        }
        return original(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return seen


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000


def test_a_young_study_gets_history_and_intermediate_values_and_a_note(
    tune_env: Path,  # noqa: F811
    saved: dict[str, dict[str, Any]],
) -> None:
    from toolkit.tune import plot
    from toolkit.tune.plots import MIN_IMPORTANCE_TRIALS

    make_study("young", 3)
    plots = plot("young", tune_env / "out")
    assert sorted(plots.files) == ["history", "intermediate"]
    assert all(is_png(p) for p in plots.files.values())
    assert plots.files["history"].name == "young-history.png"
    note = plots.notes["importance"]
    assert f"{MIN_IMPORTANCE_TRIALS} complete trials" in note and "has 3" in note

    history = next(v for k, v in saved.items() if k.startswith("young-history"))
    assert "young" in history["title"] and "log loss" in history["title"]
    assert history["xlabel"] == "trial" and "log loss" in history["ylabel"]
    assert history["xticks"] and all(t.lstrip("−-").isdigit() for t in history["xticks"])
    inter = next(v for k, v in saved.items() if k.startswith("young-intermediate"))
    assert "pruner" in inter["title"] and inter["xlabel"] == "evaluation"
    assert inter["ylabel"] == "val log loss"  # minimised: no encoder stage reported kNN
    assert all(t.lstrip("−-").isdigit() for t in inter["xticks"])


def test_parameter_importance_once_enough_trials_finished(
    tune_env: Path,  # noqa: F811
    saved: dict[str, dict[str, Any]],
) -> None:
    from toolkit.tune import plot
    from toolkit.tune.plots import MIN_IMPORTANCE_TRIALS

    make_study("grown", MIN_IMPORTANCE_TRIALS, metric="accuracy")
    plots = plot("grown", tune_env / "out")
    assert sorted(plots.files) == ["history", "importance", "intermediate"]
    assert plots.notes == {}
    assert is_png(plots.files["importance"])
    imp = next(v for k, v in saved.items() if k.startswith("grown-importance"))
    assert "grown" in imp["title"] and "accuracy" in imp["xlabel"]


def test_optuna_style_does_not_leak_into_later_plots(tune_env: Path) -> None:  # noqa: F811
    import matplotlib

    from toolkit.tune import plot

    before = dict(matplotlib.rcParams)
    make_study("style", 2)
    plot("style", tune_env / "out")
    assert matplotlib.rcParams["axes.facecolor"] == before["axes.facecolor"]


def test_tk_study_plot_prints_files_and_notes(
    tune_env: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests._cli import run_main

    make_study("cli", 2)
    code, out, err = run_main(capsys, "study", "plot", "cli", "--out", str(tune_env / "p"))
    assert code == 0, err
    assert f"wrote {tune_env / 'p' / 'cli-history.png'}" in out
    assert "no importance plot: parameter importance needs" in out


def test_a_study_without_complete_trials_is_a_user_error(
    tune_env: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests._cli import run_main

    make_study("empty", 0, pruned=2)
    code, _, err = run_main(capsys, "study", "plot", "empty", "--out", str(tune_env / "p"))
    assert code == 2 and err.count("\n") == 1 and "no complete trials" in err
    assert not (tune_env / "p").exists()


def test_intermediate_values_name_what_the_trials_reported(
    tune_env: Path,  # noqa: F811
    saved: dict[str, dict[str, Any]],
) -> None:
    """A maximised study may hold kNN accuracies from encoder stages; a k-fold study reports
    its metric once per fold."""
    from toolkit.tune import plot
    from toolkit.tune.plots import intermediate_labels

    make_study("acc", 2, metric="accuracy")
    plot("acc", tune_env / "out")
    inter = next(v for k, v in saved.items() if k.startswith("acc-intermediate"))
    assert inter["xlabel"] == "evaluation"
    assert inter["ylabel"] == "val accuracy (kNN accuracy during an embedding encoder stage)"

    for metric, title in (("log_loss", "log loss"), ("f1_macro", "F1 (macro)")):
        name = f"cv-{metric}"
        study = make_study(name, 2, metric=metric, folds=True)
        assert intermediate_labels(study, title) == ("fold", f"val {title} of each fold")
        plot(name, tune_env / "out")
        inter = next(v for k, v in saved.items() if k.startswith(f"{name}-intermediate"))
        assert inter["xlabel"] == "fold (counted from 0)"
        assert inter["title"] == f"{name}: {title} at each fold (what the pruner saw)"
        assert inter["ylabel"] == f"val {title} of each fold"
        assert "kNN" not in inter["ylabel"] and "evaluation" not in inter["title"]


def test_a_trial_pruned_at_a_fold_makes_a_k_fold_study() -> None:
    """Even before any complete trial shows fold scores, and whatever its steps."""
    import optuna
    from optuna.trial import TrialState, create_trial

    from toolkit.tune.plots import intermediate_labels

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for attrs, step in (({}, "evaluation"), ({"pruned_at_fold": 2}, "fold")):
        study = optuna.create_study(direction="maximize")  # in memory
        pruned = create_trial(
            state=TrialState.PRUNED, intermediate_values={1: 0.5, 2: 0.6}, user_attrs=attrs
        )
        study.add_trial(pruned)
        assert intermediate_labels(study, "accuracy")[0] == step
