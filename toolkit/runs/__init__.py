"""Run folders: records, checkpoints (safetensors + JSON) and artifacts."""

from toolkit.runs.store import RunDir, create_run, find_run, list_runs, runs_root

__all__ = ["RunDir", "create_run", "find_run", "list_runs", "runs_root"]
