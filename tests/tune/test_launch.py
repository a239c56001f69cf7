"""The launcher: one process or torchrun's, K worker processes, and what those workers get."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.tune.conftest import load_study, trial_states, write_study
from toolkit.errors import ToolkitError
from toolkit.tune import load_spec, top_runs, tune
from toolkit.tune.storage import default_url

TORCHRUN_RANK_0 = (("WORLD_SIZE", "2"), ("RANK", "0"), ("LOCAL_RANK", "0"))


@pytest.mark.parametrize("world_size", ["1", "2"])
def test_run_here_chooses_the_one_process_loop_or_the_distributed_one(
    monkeypatch: pytest.MonkeyPatch, world_size: str
) -> None:
    from toolkit.tune import distributed, launch, worker

    calls: list[str] = []
    monkeypatch.setattr(worker, "run_worker", lambda *a, **k: calls.append("one") or {})
    monkeypatch.setattr(
        distributed, "run_distributed", lambda *a, **k: calls.append("torchrun") or {}
    )
    for name, value in TORCHRUN_RANK_0:
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WORLD_SIZE", world_size)
    launch.run_here(object(), object(), "memory", quiet=True)  # type: ignore[arg-type]
    assert calls == (["one"] if world_size == "1" else ["torchrun"])


def test_workers_must_be_at_least_one(tune_env: Path, digits_path: Path) -> None:
    path = write_study(tune_env, trials=1)
    with pytest.raises(ToolkitError, match="--workers must be at least 1, got 0"):
        tune(load_spec(path), str(digits_path), workers=0, quiet=True)
    assert not (tune_env / "studies").exists()


def test_two_workers_on_the_default_journal_storage(tune_env: Path, digits_path: Path) -> None:
    path = write_study(tune_env, trials=5, keep=2)
    spec = load_spec(path)
    tune(spec, str(digits_path), workers=2, quiet=True)
    study = load_study(spec.name, default_url(spec.name))
    states = trial_states(study)
    assert states.get("COMPLETE", 0) + states.get("PRUNED", 0) == 5
    assert states.get("RUNNING", 0) == 0
    owners = {t.system_attrs.get("toolkit_owner") for t in study.trials}
    assert len(owners) == 2  # both worker processes ran trials
    # Only the best two checkpoints are kept; every trial links to its run folder.
    with_weights = [
        t
        for t in study.trials
        if (Path(t.user_attrs["run_path"]) / "checkpoint.safetensors").exists()
    ]
    assert len(with_weights) == 2
    best = top_runs(spec.name, k=1)[0]
    assert best == max(study.trials, key=lambda t: t.value or -1).user_attrs["run_path"]
    # Rerunning the same command resumes: the study is done, so nothing more is run.
    tune(spec, str(digits_path), workers=1, quiet=True)
    assert len(load_study(spec.name, default_url(spec.name)).trials) == 5


def test_workers_get_the_overrides_and_their_own_seeds(tune_env: Path, digits_path: Path) -> None:
    # Workers get the caller's spec: `--name` / `--trials` (and `tk run`'s study name) must
    # reach them; and with one seed (the quick study's is 0) both would draw the same parameters.
    path = write_study(tune_env, name="from-file", trials=9)
    spec = load_spec(path, overrides={"name": "overridden", "trials": 4})
    tune(spec, str(digits_path), workers=2, quiet=True)
    study = load_study("overridden", default_url("overridden"))
    states = trial_states(study)
    assert states.get("COMPLETE", 0) + states.get("PRUNED", 0) == 4, states
    assert not (tune_env / "studies" / "from-file.journal").exists()
    assert len({t.params["head_lr"] for t in study.trials}) == 4


def test_workers_never_import_from_the_working_folder(tune_env: Path, digits_path: Path) -> None:
    """A module planted in the working folder (csv.py shadows the standard library, which torch
    imports) must not run inside the workers, as it did when they were ``python -m toolkit``."""
    marker = tune_env / "planted-module-ran"
    (tune_env / "csv.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    path = write_study(tune_env, trials=2, epochs=1)
    spec = load_spec(path)
    tune(spec, str(digits_path), workers=2, quiet=True)
    assert not marker.exists()
    study = load_study(spec.name, default_url(spec.name))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2


def test_two_workers_share_one_postgresql_study(
    tune_env: Path, digits_path: Path, pg_url: str
) -> None:
    path = write_study(tune_env, trials=6)
    spec = load_spec(path)
    try:
        tune(spec, str(digits_path), storage=pg_url, workers=2, quiet=True)
        study = load_study(spec.name, pg_url)
        states = trial_states(study)
        assert states.get("COMPLETE", 0) + states.get("PRUNED", 0) == 6, states
        assert len({t.system_attrs.get("toolkit_owner") for t in study.trials}) == 2
    finally:
        optuna.delete_study(study_name=spec.name, storage=pg_url)


def test_workers_under_torchrun_is_refused(
    tune_env: Path,
    digits_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One way of parallelism per command; refused before any process group or study."""
    from toolkit.cli import main

    study_file = write_study(tune_env, trials=1)
    for name, value in TORCHRUN_RANK_0:
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_info:
        main(["tune", str(study_file), str(digits_path), "--workers", "2"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--workers 2 under torchrun" in err, err
    assert not (tune_env / "studies").exists()


def test_workers_do_not_inherit_torchrun_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.train.torchrun import forget_torchrun, launched_by_torchrun
    from toolkit.tune.launch import worker_env

    env = {"MASTER_PORT": "29500", "TORCHELASTIC_RUN_ID": "x", "PATH": "/bin", "RANK": "0"}
    assert launched_by_torchrun(env)
    forget_torchrun(env)
    assert env == {"PATH": "/bin"} and not launched_by_torchrun(env)
    for name, value in (*TORCHRUN_RANK_0, ("TORCHELASTIC_RUN_ID", "x")):
        monkeypatch.setenv(name, value)
    worker = worker_env(1, 2, ["0", "1"])
    assert not launched_by_torchrun(worker)
    assert worker["CUDA_VISIBLE_DEVICES"] == "1" and int(worker["TOOLKIT_THREADS"]) >= 1


@pytest.mark.usefixtures("clean_registry")
def test_the_job_hands_over_the_plugin_paths(tmp_path: Path) -> None:
    """``tk --plugins FILE tune --workers K``: the workers load FILE too."""
    from toolkit.registry import add_plugin_paths
    from toolkit.tune import launch

    plugin = tmp_path / "my_plugin.py"
    plugin.write_text('"""An empty plugin file."""\n')
    add_plugin_paths([str(plugin)])
    assert launch._plugin_paths() == (str(plugin.resolve()),)
