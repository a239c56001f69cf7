"""Tuning with Optuna: a study file -> trials (each one a run) in a plain Optuna storage.

Importing this package is cheap; Optuna and torch load inside the functions that need them.
"""

from toolkit.tune.launch import tune
from toolkit.tune.report import list_studies, load, plot, top_runs, trial_rows
from toolkit.tune.spec import Pipeline, StudySpec, load_spec, parse_spec
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
]
