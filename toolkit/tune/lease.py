"""Trial leases: on a journal, a running trial's worker proves it is alive, from any host.

Database storages have Optuna's heartbeats, timed by the database's clock. A journal file has
none, and the owner check (host + pid) can only tell that a process on *this* host is gone, so
a worker that died on another machine sharing the journal (over NFS, say) would leave its trial
RUNNING for ever. Instead, the worker running a trial renews a lease on it, the trial system
attribute ``toolkit_lease`` = ``{"beat": n, "grace_s": g}``, counting ``n`` up every
heartbeat (:class:`Lease`, a background thread). The other workers time the beats with their
own monotonic clocks (:class:`LeaseWatch`): a lease whose beat has not changed for ``g``
seconds, the grace its owner declared, has expired and its worker counts as dead. No two hosts'
clocks are ever compared, so a skewed clock cannot expire a live lease.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

LEASE_ATTR = "toolkit_lease"  # {"beat": n, "grace_s": g} of the worker running the trial


def renew(storage: BaseStorage, trial_id: int, beat: int, grace_s: float) -> bool:
    """Write beat ``beat`` of the trial's lease; False once the trial has finished (it was
    told, or failed by another worker that took this one for dead)."""
    from optuna.exceptions import UpdateFinishedTrialError

    try:
        storage.set_trial_system_attr(trial_id, LEASE_ATTR, {"beat": beat, "grace_s": grace_s})
    except (UpdateFinishedTrialError, KeyError):
        return False
    return True


class Lease:
    """Renews a trial's lease every ``every_s`` seconds from a daemon thread, until joined.

    The same ``start()``/``join()`` as Optuna's heartbeat thread. Beat 0 is written when the
    trial is claimed (:func:`renew`); this thread writes 1, 2, ... starting at once.
    """

    def __init__(
        self, storage: BaseStorage, trial_id: int, *, every_s: float, grace_s: float
    ) -> None:
        self._storage, self._trial_id = storage, trial_id
        self._every_s, self._grace_s = every_s, grace_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tk-lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        beat = 1
        while not self._stop.is_set():
            try:
                if not renew(self._storage, self._trial_id, beat, self._grace_s):
                    return
                beat += 1
            except Exception:  # a storage hiccup (a busy network file system): try next beat
                pass
            self._stop.wait(self._every_s)


class LeaseWatch:
    """What this process has seen of other workers' leases, timed by its own monotonic clock.

    ``expired(trial)`` is asked each time the worker looks for stale trials: it is True once the
    trial's beat has stayed the same for the lease's grace (``grace_s``, this process's own
    grace for a trial without a lease) since this process first saw it.
    """

    def __init__(self, grace_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_s = grace_s
        self._clock = clock
        self._seen: dict[int, tuple[Any, float]] = {}  # trial id -> (beat, first seen at)

    def expired(self, trial: FrozenTrial) -> bool:
        lease = trial.system_attrs.get(LEASE_ATTR)
        beat = lease.get("beat") if isinstance(lease, dict) else None
        now = self._clock()
        seen = self._seen.get(trial._trial_id)
        if seen is None or seen[0] != beat:
            self._seen[trial._trial_id] = (beat, now)
            return False
        return now - seen[1] >= self.grace_of(trial)

    def grace_of(self, trial: FrozenTrial) -> float:
        """The grace for ``trial``, in seconds: its lease's, else this watch's."""
        lease = trial.system_attrs.get(LEASE_ATTR)
        grace = lease.get("grace_s") if isinstance(lease, dict) else None
        return float(grace) if isinstance(grace, int | float) else self.grace_s
