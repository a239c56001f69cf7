"""The local leaderboard: every submission's provenance JSON under the submissions root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.submit import provenance
from toolkit.submit.paths import safe_name, submissions_root


def list_submissions(
    root: Path | None = None, competition: str | Path | None = None
) -> list[dict[str, Any]]:
    """One summary per submission, newest first; ``competition`` (a name or folder) filters.

    Files that are not toolkit provenance JSONs are skipped.
    """
    root = root if root is not None else submissions_root()
    if not root.is_dir():
        return []
    wanted = safe_name(Path(competition).name, what="competition") if competition else None
    out = []
    for json_path in sorted(root.glob("*/*.json")):
        if wanted is not None and json_path.parent.name != wanted:
            continue
        try:
            data = provenance.read(json_path)
        except ToolkitError:
            continue
        out.append(summary(data, json_path))
    out.sort(key=lambda s: (s["created"] or "", s["file"]), reverse=True)
    return out


def short_run_id(run_id: str) -> str:
    """``20250101-120000-pixels-softmax-ce-linear-probe-1a2b`` without its timestamp."""
    parts = run_id.split("-", 2)
    if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
        return parts[2]
    return run_id


def summary(data: dict[str, Any], json_path: Path) -> dict[str, Any]:
    """The leaderboard's view of one provenance record."""
    runs = data.get("runs") or []
    trials = [r.get("trial") for r in runs]
    if data.get("study"):
        shown = ", ".join(f"#{t}" for t in trials if t is not None)
        source = f"study {data['study']}" + (f" {shown}" if shown else "")
    else:
        source = "run " + ", ".join(short_run_id(str(r.get("run_id"))) for r in runs)
    csv_path = json_path.with_suffix(".csv")
    return {
        "created": data.get("created"),
        "competition": data.get("competition"),
        "source": source,
        "study": data.get("study"),
        "runs": [r.get("run_id") for r in runs],
        "trials": trials,
        "top_k": data.get("top_k"),
        "tta": data.get("tta"),
        "metric": data.get("metric", "accuracy"),
        "validation_score": data.get("validation_score"),
        "validation_interval": data.get("validation_interval"),
        "local_test_score": data.get("local_test_score"),
        "local_test_metric": data.get("local_test_metric") or data.get("metric", "accuracy"),
        "file": csv_path.name,
        "csv_path": str(csv_path),
        "json_path": str(json_path),
        "csv_exists": csv_path.is_file(),
    }
