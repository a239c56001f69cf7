"""Tuning with Optuna: a study file -> trials (each one a run) in a plain Optuna storage.

- ``spec``: the study file, parsed and checked; ``objective``: a trial's config from it.
- ``launch``: :func:`tune`, which chooses where the worker loop runs: here, across a torchrun
  launch (``distributed``), or in worker processes (``worker_main``, handed a ``job`` file).
- ``worker``: the loop itself (claim, train, report, tell); ``pruning``: the pruner and the
  rule for pruning; ``retention``: which checkpoints stay; ``storage``: where studies live;
  ``report``: reading studies back.

Imports point from the launcher down to the loop and the spec, never back up and never round
a circle (tests/test_architecture.py).
Importing this package is cheap; Optuna and torch load inside the functions that need them.
"""

from toolkit.tune.launch import tune
from toolkit.tune.report import list_studies, load, plot, top_runs, trial_rows
from toolkit.tune.spec import Pipeline, StudySpec, load_spec, parse_spec, with_fixed
from toolkit.tune.storage import default_url, redact, studies_dir

__all__ = [
    "Pipeline",
    "StudySpec",
    "default_url",
    "list_studies",
    "load",
    "load_spec",
    "parse_spec",
    "plot",
    "redact",
    "studies_dir",
    "top_runs",
    "trial_rows",
    "tune",
    "with_fixed",
]
