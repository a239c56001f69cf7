"""``tk submit``, ``tk submit validate``, ``tk score`` and ``tk leaderboard``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from toolkit.cli._common import (
    JsonOption,
    StorageOption,
    format_score,
    metric_option,
    metric_title,
    print_json,
    set_option,
    stderr,
    stdout,
    table,
)
from toolkit.errors import ToolkitError

submit_app = typer.Typer(
    help="Predict the test set with the best trial or a run and write a validated CSV.",
    invoke_without_command=True,
)


@submit_app.callback()
def submit(
    ctx: typer.Context,
    study: Annotated[
        str | None, typer.Option("--study", help="Submit the best trial(s) of this study.")
    ] = None,
    run: Annotated[
        list[str] | None,
        typer.Option("--run", help="Run id, prefix or folder; repeat to average several runs."),
    ] = None,
    top_k: Annotated[
        int, typer.Option("--top-k", min=1, help="With --study: average the k best trials.")
    ] = 1,
    tta: Annotated[
        bool | None,
        typer.Option(
            "--tta/--no-tta",
            help="Test-time augmentation: every view the run trained on (flips; 1-px shifts "
            "if it trained with crops). Default: as the run validated (its tta setting).",
        ),
    ] = None,
    tta_shift: Annotated[
        int | None,
        typer.Option("--tta-shift", min=0, help="TTA shift in pixels; 0 = no shifts."),
    ] = None,
    tta_flip: Annotated[
        bool | None,
        typer.Option("--tta-flip/--no-tta-flip", help="TTA horizontal flips (default: run's)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="File name part (default: run id or study).")
    ] = None,
    competition: Annotated[
        str | None,
        typer.Option("--competition", help="Competition folder (default: the run's own)."),
    ] = None,
    storage: StorageOption = None,
    slug: Annotated[
        str | None,
        typer.Option("--slug", help="Kaggle competition slug (default: the folder name)."),
    ] = None,
    metric: Annotated[str | None, metric_option("default: the run's")] = None,
    settings: Annotated[
        list[str] | None,
        set_option(
            "Submission settings: submission.kind=label|probability|class-probabilities|top-k, "
            "submission.k=5, submission.positive_class=NAME."
        ),
    ] = None,
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate/--no-calibrate",
            help="Fit a temperature on the validation split before writing probabilities.",
        ),
    ] = True,
    json: JsonOption = False,
) -> None:
    """Predict the test set with the best trial(s) of a study or with runs; write the CSV and
    its provenance JSON under submissions/<competition>/ and print the Kaggle upload command."""
    if ctx.invoked_subcommand is not None:
        return
    from toolkit.submit import TTARequest, make_submission, study_runs

    if (study is None) == (not run):
        raise ToolkitError(
            "pass either --study NAME or --run ID (or 'tk submit validate FILE' to check a CSV)."
        )
    if run and top_k != 1:
        raise ToolkitError("--top-k goes with --study; repeat --run to average chosen runs.")
    from toolkit.train.compose import command_line_settings

    overrides = command_line_settings(settings or [], metric=metric)
    runs = study_runs(study, storage, top_k) if study is not None else list(run or [])
    result = make_submission(
        runs,
        competition,
        tta=TTARequest(enabled=tta, flip=tta_flip, shift=tta_shift),
        name=name,
        study=study,
        storage=storage,
        slug=slug,
        settings=overrides,
        calibrate=calibrate,
    )
    prov = result.provenance
    if json:
        print_json({**prov, "csv_path": str(result.csv_path), "json_path": str(result.json_path)})
        return
    rows = [
        ("file", str(result.csv_path)),
        ("provenance", str(result.json_path)),
        ("source", ", ".join(r["run_id"] for r in prov["runs"])),
        ("shape", _shape(prov.get("submission") or {})),
        ("metric", metric_title(prov.get("metric"))),
        ("validation score", format_score(prov["validation_score"], prov.get("metric"))),
        ("local test score", format_score(prov["local_test_score"], prov.get("metric"))),
    ]
    calibration = prov.get("calibration")
    if calibration and calibration.get("skipped"):
        rows.append(("calibration", f"none: {calibration['skipped']}"))
    elif calibration:
        rows.append(
            (
                "calibration",
                f"temperature {calibration['temperature']:.3f}: validation log loss "
                f"{calibration['val_log_loss_before']:.4f} -> "
                f"{calibration['val_log_loss_after']:.4f}",
            )
        )
    console = stdout()
    console.print(table("Submission written", ["", ""], rows))
    console.print("upload it with (not run):", style="bold")
    console.print(prov["kaggle_command"], markup=False, highlight=False, soft_wrap=True)


@submit_app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="Submission CSV to check.")],
    competition: Annotated[
        str | None,
        typer.Argument(help="Competition folder (default: the one in the file's provenance)."),
    ] = None,
) -> None:
    """Check a CSV against the competition's sample submission: exit 0 if valid, else 2."""
    from toolkit.data import load_competition
    from toolkit.submit import validate_submission
    from toolkit.submit.paths import provenance_path
    from toolkit.submit.provenance import read

    if competition is None:
        prov = provenance_path(file)
        if not prov.is_file():
            raise ToolkitError(
                f"{file.name} has no provenance JSON beside it; name the competition: "
                f"tk submit validate {file} COMPETITION."
            )
        competition = str(read(prov)["competition_path"])
    comp = load_competition(competition)
    validate_submission(file, comp)
    typer.echo(f"OK: {file} is a valid submission for {comp.name} ({len(comp.test_ids)} rows).")


def score_command(
    file: Annotated[Path, typer.Argument(help="Submission CSV to score.")],
    answers: Annotated[
        Path | None,
        typer.Option("--answers", help="Answer key CSV (default: the competition's)."),
    ] = None,
    metric: Annotated[
        str | None, metric_option("default: the submission's, else by its shape")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Local leaderboard score against an answer key, by the competition's metric; saved in
    the submission's provenance JSON."""
    from toolkit.submit import score_submission

    score = score_submission(file, answers, metric=metric)
    if json:
        print_json(
            {
                "file": str(file),
                "metric": score.metric,
                "direction": score.direction,
                "score": score.value,
                score.metric: score.value,  # e.g. "accuracy": 0.97 (kept for older scripts)
            }
        )
        return
    shown = format_score(score.value, score.metric)
    typer.echo(f"{file.name}: {score.title} {score.value:.5f} ({shown})")


def leaderboard_command(
    competition: Annotated[
        str | None, typer.Argument(help="Competition name or folder (default: all).")
    ] = None,
    json: JsonOption = False,
) -> None:
    """All submissions, newest first: source, validation and local test scores, file."""
    from toolkit.submit import list_submissions

    entries = list_submissions(competition=competition)
    if json:
        print_json(entries)
        return
    rows = [
        (
            (e["created"] or "")[:16].replace("T", " "),
            e["competition"],
            e["source"],
            _settings(e),
            metric_title(e.get("metric")),
            format_score(e["validation_score"], e.get("metric")),
            format_score(e["local_test_score"], e.get("local_test_metric") or e.get("metric")),
            e["file"],
        )
        for e in entries
    ]
    columns = [
        "created",
        "competition",
        "source",
        "settings",
        "metric",
        "val",
        "local test",
        "file",
    ]
    stdout().print(table(f"Submissions ({len(rows)})", columns, rows))
    if not rows:
        stderr().print(
            "no submissions yet: try 'tk submit --run ID' (kept in ./submissions or "
            "$TOOLKIT_SUBMISSIONS)"
        )


def _settings(entry: dict[str, Any]) -> str:
    parts = []
    if (entry.get("top_k") or 1) > 1:
        parts.append(f"top-{entry['top_k']}")
    tta = entry.get("tta")
    if isinstance(tta, list):  # one per run: they differed
        parts.append("tta per run")
    elif tta:
        parts.append("tta " + "+".join(k for k in ("flip", "shift") if tta.get(k)))
    return ", ".join(parts)


def _shape(submission: dict[str, Any]) -> str:
    kind = str(submission.get("kind") or "label")
    if kind == "top-k":
        return f"top-{submission.get('k')} labels"
    if kind == "probability":
        return f"probability of {submission.get('positive_class')}"
    return kind
