"""One tuning worker: claim a trial, train it as a run, report, repeat until the study is done.

Several workers (processes, or machines sharing a PostgreSQL storage) run this loop on one
study. Claims are serialised (:func:`~toolkit.tune.storage.claim_lock`) so the study ends with
exactly ``spec.trials`` finished (complete or pruned) trials: a worker with nothing left to
claim waits while other workers' trials run, in case one of them dies. A trial whose worker
died is failed and re-queued, whichever host it ran on: its worker's heartbeats stopped (Optuna
heartbeats on database storages, a lease on journals: :mod:`toolkit.tune.lease`), or, at once,
the worker process recorded on the trial (host + pid) no longer exists on this host.

This module is one process's loop and knows nothing of how it was started:
:mod:`toolkit.tune.launch` runs it here, or in worker processes
(:mod:`toolkit.tune.worker_main`), and under ``torchrun`` :mod:`toolkit.tune.distributed` runs
it on rank 0 with an ``announce`` hook that hands each trial's config to the other ranks.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from toolkit.errors import Terminated, ToolkitError
from toolkit.tune.lease import Lease, LeaseWatch, renew
from toolkit.tune.objective import trial_config
from toolkit.tune.pruning import make_pruner, may_prune, planned_evaluations, study_resources
from toolkit.tune.retention import prune_checkpoints
from toolkit.tune.spec import StudySpec
from toolkit.tune.storage import claim_lock, grace_s, heartbeat_s, open_storage, redact

if TYPE_CHECKING:
    import optuna

    from toolkit.data import Competition
    from toolkit.train.config import TrainConfig
    from toolkit.train.task import Task

Announce = Callable[["TrainConfig"], None]  # told each trial's config just before it trains

OWNER_ATTR = "toolkit_owner"  # "<host>:<pid>" of the worker running the trial
UNOWNED_GRACE_S = 120  # a RUNNING trial without an owner this old was never started
MAX_CONSECUTIVE_FAILURES = 3  # a study whose trials keep failing stops instead of looping
# A trial whose worker died (killed, out of memory) is run again with the same parameters, at
# most this many times in all: parameters that kill every worker must not loop for ever.
MAX_ATTEMPTS = 3
WAIT_POLL_S = 1.0  # a worker with nothing to claim looks at the others' trials this often


def open_study(
    spec: StudySpec,
    url: str,
    *,
    resources: Iterable[int] | None = None,
    direction: str = "maximize",
) -> optuna.Study:
    """Create or load the study (plain Optuna, so its own tools can open it).

    ``resources``: the planned evaluations of the study's trials, for the pruner's rungs
    (:func:`~toolkit.tune.pruning.study_resources`; ``None``: not known in advance).
    ``direction``: the metric's (``minimize`` for log loss).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (
        optuna.samplers.RandomSampler(seed=spec.seed)
        if spec.sampler == "random"
        else optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=min(5, spec.trials))
    )
    pruner = make_pruner(spec.pruner, resources)
    storage = open_storage(url)
    try:
        study = optuna.create_study(
            study_name=spec.name,
            storage=storage,
            sampler=sampler,
            pruner=pruner,
            direction=direction,
            load_if_exists=True,
        )
    except Exception as err:
        raise ToolkitError(f"cannot open study {spec.name} in {redact(url)}: {err}") from None
    study.set_user_attr("spec", spec.source)
    return study


def run_worker(
    spec: StudySpec,
    comp: Competition,
    url: str,
    *,
    quiet: bool = True,
    announce: Announce | None = None,
) -> dict[str, int]:
    """Run trials until the study holds ``spec.trials`` finished ones (or the timeout).

    ``announce(config)``, when given, is told each trial's config just before it trains.
    Returns ``{"trials_run": n}``: the trials this worker finished (complete or pruned).
    """
    from optuna.trial import TrialState

    task = study_task(spec, comp)
    study = open_study(
        spec, url, resources=study_resources(spec, comp), direction=task.metric.direction
    )
    study.set_user_attr("metric", task.metric.name)
    watch = LeaseWatch(grace_s())
    start, done, failures, told_waiting = time.monotonic(), 0, 0, False
    while spec.timeout is None or time.monotonic() - start < spec.timeout:
        with claim_lock(url, spec.name):
            recover_stale(study, watch)
            states = [t.state for t in study.get_trials(deepcopy=False)]
            finished = states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED)
            running = states.count(TrialState.RUNNING)
            claim = states.count(TrialState.WAITING) > 0 or finished + running < spec.trials
            if not claim and finished >= spec.trials:
                break
            if claim:
                with warnings.catch_warnings():  # heartbeats work with ask(); Optuna warns
                    warnings.simplefilter("ignore", UserWarning)
                    trial = study.ask()
                _hold(study, trial)
        if not claim:  # the last trials run elsewhere; if their worker dies, one is retried here
            if not quiet and not told_waiting:
                print(
                    f"study {spec.name}: waiting for {running} trial(s) running in other "
                    f"workers (one whose worker dies is retried here after {watch.grace_s:g} s)",
                    file=sys.stderr,
                )
            told_waiting = True
            time.sleep(WAIT_POLL_S)
            continue
        told_waiting = False
        state = run_trial(study, trial, spec, comp, url, quiet=quiet, announce=announce)
        with claim_lock(url, spec.name):
            prune_checkpoints(study, spec.keep_checkpoints)
        if state == TrialState.FAIL:
            failures += 1
            if failures >= MAX_CONSECUTIVE_FAILURES:
                raise ToolkitError(
                    f"study {spec.name}: {failures} trials in a row failed; see "
                    f"'tk study show {spec.name}' for their errors and fix the study file."
                )
        else:
            failures, done = 0, done + 1
    return {"trials_run": done}


def study_task(spec: StudySpec, comp: Competition) -> Task:
    """The submission shape and metric the study optimises (one error before any trial)."""
    from toolkit.train.task import matching_competition, resolve_task
    from toolkit.tune.objective import base_config

    config = base_config(spec)
    return resolve_task(config, matching_competition(config, comp))


def run_trial(
    study: optuna.Study,
    trial: optuna.Trial,
    spec: StudySpec,
    comp: Competition,
    url: str,
    *,
    quiet: bool,
    announce: Announce | None = None,
) -> Any:
    """Train one trial as a run; tell Optuna how it ended. Returns the final state.

    ``announce(config)`` is called once the trial's config is known, just before training.
    """
    from optuna.trial import TrialState

    from toolkit.train import Pruned, train

    heartbeat = _heartbeat(trial, study)
    try:
        pipeline, config = trial_config(trial, spec)
        planned = planned_evaluations(config, comp)

        def report(step: int, value: float) -> bool:
            """Training's hook: record the score; True asks training to stop (pruned)."""
            trial.report(value, step)
            if may_prune(step, planned) and trial.should_prune():
                trial.set_user_attr("pruned_at_eval", step)
                return True
            return False

        def on_run(run_id: str, path: str) -> None:
            trial.set_user_attr("run_id", run_id)
            trial.set_user_attr("run_path", path)

        def on_fold(fold: int, value: float) -> bool:
            """A k-fold trial's hook: one report per fold (WilcoxonPruner pairs them)."""
            trial.report(value, fold)
            if fold < config.folds - 1 and trial.should_prune():
                trial.set_user_attr("pruned_at_fold", fold + 1)
                return True
            return False

        trial.set_user_attr("pipeline", pipeline.label)
        trial.set_user_attr("planned_evals", config.folds if config.folds >= 2 else planned)
        if announce is not None:
            announce(config)
        extra = {"study": spec.name, "trial": trial.number, "storage": redact(url)}
        if config.folds >= 2:  # k-fold: the trial is a cross-validation, scored per fold
            from toolkit.train.kfold import train_folds

            result = train_folds(
                config, comp, quiet=quiet, on_fold=on_fold, on_run=on_run, extra=extra
            )
        else:
            result = train(config, comp, quiet=quiet, report=report, on_run=on_run, extra=extra)
        trial.set_user_attr("metrics", result.metrics)
        metrics = result.metrics
        study.tell(trial, float(metrics.get("val_score", metrics["val_acc"])))
        return TrialState.COMPLETE
    except Pruned:  # the hook returned True: training stopped and recorded the run as pruned
        study.tell(trial, state=TrialState.PRUNED)
        return TrialState.PRUNED
    except KeyboardInterrupt as err:
        why = "stopped by SIGTERM" if isinstance(err, Terminated) else "interrupted (Ctrl-C)"
        _fail_and_requeue(study, trial, why)
        raise
    except Exception as err:  # a failed trial must not end the study (3 in a row do)
        from optuna.exceptions import UpdateFinishedTrialError

        message = str(err) if isinstance(err, ToolkitError) else f"{type(err).__name__}: {err}"
        try:
            trial.set_user_attr("error", message)
            study.tell(trial, state=TrialState.FAIL)
        except UpdateFinishedTrialError:  # failed (and retried) meanwhile by a worker that
            pass  # took this one for dead: no heartbeat for the grace period
        return TrialState.FAIL
    finally:
        heartbeat.join()


def recover_stale(study: optuna.Study, watch: LeaseWatch | None = None) -> list[int]:
    """Fail RUNNING trials whose worker is gone, and queue them again. Returns their numbers.

    A trial's worker is gone when its process, recorded on the trial as host + pid, no longer
    exists on this host (seen at once), or, on any host, when it sent no heartbeat for the
    grace period: Optuna's heartbeats on database storages (timed by the database), the
    trial's lease on other storages (timed by ``watch``, which must see the same beat for the
    grace period; a fresh watch never expires one). A trial that never got an owner (its worker
    died inside the claim) is gone once it is ``UNOWNED_GRACE_S`` old.
    """
    import optuna
    from optuna.trial import TrialState

    recovered = []
    stale_ids = _heartbeat_stale_ids(study)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        why = _why_gone(t, stale_ids, watch)
        if why is None:
            continue
        attempt = int(t.user_attrs.get("attempt", 1))
        if attempt >= MAX_ATTEMPTS:
            why += f"; its worker died in all {attempt} attempts with these parameters: "
            why += "not retried"
        try:
            study._storage.set_trial_user_attr(t._trial_id, "error", why)
            study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        if attempt < MAX_ATTEMPTS:
            _requeue(study, t, attempt + 1)
            recovered.append(t.number)
    return recovered


def _requeue(study: optuna.Study, trial: optuna.trial.FrozenTrial, attempt: int) -> None:
    """Queue ``trial``'s parameters again as attempt number ``attempt``."""
    attrs = {"retry_of": trial.number, "attempt": attempt}
    study.enqueue_trial(trial.params, user_attrs=attrs, skip_if_exists=False)


def _why_gone(
    trial: optuna.trial.FrozenTrial, stale_ids: set[int] | None, watch: LeaseWatch | None
) -> str | None:
    """Why the RUNNING ``trial``'s worker counts as dead (its error), or None: alive, or too
    soon to tell. ``stale_ids``: the storage's heartbeat-stale trials (None: no heartbeats)."""
    owner = trial.system_attrs.get(OWNER_ATTR, "")
    if not owner:  # killed between ask() and recording its owner (a claim takes ms)
        started = trial.datetime_start
        now = datetime.now(tz=started.tzinfo) if started is not None else None
        if now is None or (now - started).total_seconds() < UNOWNED_GRACE_S:
            return None
        return "worker unknown died"
    owner_host, _, pid = owner.rpartition(":")
    if owner_host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
        return f"worker {owner} died"  # a live pid may be another process's now: check beats
    if stale_ids is not None:
        if trial._trial_id not in stale_ids:
            return None
        return f"worker {owner} died (no heartbeat for {grace_s()} s)"
    if watch is not None and watch.expired(trial):
        return f"worker {owner} died (no heartbeat for {watch.grace_of(trial):g} s)"
    return None


def _fail_and_requeue(study: optuna.Study, trial: optuna.Trial, why: str) -> None:
    from optuna.trial import TrialState

    trial.set_user_attr("error", why)
    frozen = study.tell(trial, state=TrialState.FAIL)
    _requeue(study, frozen, int(frozen.user_attrs.get("attempt", 1)))  # not the trial's fault


def _hold(study: optuna.Study, trial: optuna.Trial) -> None:
    """Mark a trial just claimed as this worker's: its first heartbeat (or lease beat), then
    its owner. In that order: a claim cut between the two leaves a trial without an owner,
    which :func:`recover_stale` fails after ``UNOWNED_GRACE_S``; an owned trial always has a
    heartbeat, so its worker's death is always noticed."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    storage = study._storage
    if is_heartbeat_enabled(storage):
        storage.record_heartbeat(trial._trial_id)
    else:
        renew(storage, trial._trial_id, 0, grace_s())
    storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR, _owner())


def _heartbeat(trial: optuna.Trial, study: optuna.Study) -> Any:
    """Start the heartbeat thread for ``trial``: Optuna's on storages that have heartbeats
    (databases), else one renewing the trial's lease (:class:`~toolkit.tune.lease.Lease`)."""
    from optuna.storages._heartbeat import get_heartbeat_thread, is_heartbeat_enabled

    storage = study._storage
    if is_heartbeat_enabled(storage):
        thread: Any = get_heartbeat_thread(trial._trial_id, storage)
    else:
        thread = Lease(storage, trial._trial_id, every_s=heartbeat_s(), grace_s=grace_s())
    thread.start()
    return thread


def _heartbeat_stale_ids(study: optuna.Study) -> set[int] | None:
    """Ids of the study's RUNNING trials whose Optuna heartbeat is older than the storage's
    grace period; None on storages without heartbeats (journals: leases instead)."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    storage = study._storage
    if not is_heartbeat_enabled(storage):
        return None
    return set(storage._get_stale_trial_ids(study._study_id))


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (killed, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True
