"""A tuning worker process: ``python -P -m toolkit.tune.worker_main JOB.json``.

:func:`toolkit.tune.launch.tune` starts one per ``--workers``. ``-P`` keeps the working folder
off ``sys.path`` (a ``csv.py`` there must not shadow the standard library inside a worker);
``PYTHONPATH`` still applies. The job (:class:`~toolkit.tune.job.WorkerJob`) says everything
the worker needs, so no command line is rebuilt from the spec. Errors end the process the way
``tk`` does: a :class:`~toolkit.errors.ToolkitError` prints one line and exits 2 (a traceback
with ``TOOLKIT_DEBUG=1``), Ctrl-C exits 130.
"""

from __future__ import annotations

import os
import sys

from toolkit.errors import (
    ToolkitError,
    catch_interrupts,
    interrupt_exit_code,
    interrupt_message,
)


def main(argv: list[str] | None = None) -> int:
    """Run the job file named by ``argv[0]``; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -P -m toolkit.tune.worker_main JOB.json", file=sys.stderr)
        return 2
    catch_interrupts()
    watch_parent()
    try:
        run_job(args[0])
    except ToolkitError as err:
        if os.environ.get("TOOLKIT_DEBUG") == "1":
            raise
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(interrupt_message(), file=sys.stderr)
        return interrupt_exit_code()
    return 0


PARENT_CHECK_S = 1.0  # how often a worker checks that its launcher is alive


def watch_parent() -> None:
    """Stop this worker (as SIGTERM would: its trial re-queued, its run marked interrupted)
    when the process that launched it dies, e.g. killed with SIGKILL, so no orphan trains on."""
    import signal
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="tk-parent-watch", daemon=True).start()


def run_job(path: str) -> dict[str, int]:
    """Load the job's plugins and competition, then run the one-process worker loop."""
    from toolkit.registry import add_plugin_paths
    from toolkit.train.task import load_for
    from toolkit.tune.job import read_job
    from toolkit.tune.objective import base_config
    from toolkit.tune.worker import run_worker

    job = read_job(path)
    add_plugin_paths(list(job.plugins))
    comp = load_for(base_config(job.spec), job.competition)  # the launcher filled the cache
    return run_worker(job.spec, comp, job.storage, quiet=job.quiet)


if __name__ == "__main__":
    sys.exit(main())
