"""benchmarks/tuning.py --smoke: pruned, unpruned and two-worker studies end with their trials."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks._script import run_smoke


def test_tuning_smoke(tmp_path: Path) -> None:
    result = run_smoke("tuning.py", tmp_path, root=False)
    assert result["smoke"] and result["machine"]["cpus"] >= 1
    trials = result["settings"]["trials"]
    pruning, scaling = result["pruning"], result["scaling"]
    for run in (pruning["asha"], pruning["none"], scaling["workers_2"]):
        assert run["finished"] == trials and run["failed"] == 0
        assert 0 < run["epochs_trained"] <= trials * result["settings"]["epochs_per_trial"]
        assert run["wall_s"] > 0 and run["trials_per_min"] > 0
    assert pruning["none"]["pruned"] == 0 and scaling["workers_2"]["pruned"] == 0
    assert pruning["none"]["epochs_trained"] == trials * result["settings"]["epochs_per_trial"]
    assert 0 <= pruning["none"]["best_val_acc"] <= 1
    assert pruning["asha"]["epoch_ratio"] >= 1  # pruning never trains more
    assert isinstance(pruning["asha"]["meets_goal"], bool)
    assert pruning["asha"]["same_params_as_none"] == trials  # seeded: a paired comparison
    for t in pruning["asha"]["trials"]:  # each trial planned its evaluations; none cut at its end
        assert t["planned_evals"] == result["settings"]["epochs_per_trial"]
        assert len(t["curve"]) == (t["pruned_at_eval"] or t["planned_evals"])
    assert scaling["speedup"] > 0 and isinstance(scaling["meets_goal"], bool)
    # Two worker processes ran, each limited by the launcher to its share of the threads.
    threads = str(result["settings"]["threads_per_worker"])
    assert scaling["workers_2"]["worker_env"] == [[threads, threads]]
    assert scaling["workers_2"]["worker_processes"] >= 2
    assert not list(tmp_path.glob("runs")) and not list(tmp_path.glob("studies"))  # all in tmp
