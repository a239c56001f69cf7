"""``tk submit``, ``tk submit validate``, ``tk score`` and ``tk leaderboard``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer

from toolkit.cli._common import (
    Column,
    JsonOption,
    Listing,
    QuietOption,
    StorageOption,
    format_interval,
    format_score,
    listing,
    metric_option,
    metric_title,
    print_json,
    print_listing,
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
    quiet: QuietOption = False,
) -> None:
    """Predict the test set with the best trial(s) of a study or with runs; write the CSV and
    its provenance JSON under submissions/<competition>/ and print the Kaggle upload command."""
    if ctx.invoked_subcommand is not None:
        return
    from toolkit.submit import TTARequest, make_submission, study_runs
    from toolkit.submit.predict import check_weights

    if (study is None) == (not run):
        raise ToolkitError(
            "pass either --study NAME or --run ID (or 'tk submit validate FILE' to check a CSV)."
        )
    if run and top_k != 1:
        raise ToolkitError("--top-k goes with --study; repeat --run to average chosen runs.")
    from toolkit.train.compose import command_line_settings

    overrides = command_line_settings(settings or [], metric=metric)
    runs = study_runs(study, storage, top_k) if study is not None else list(run or [])
    for token in runs:
        check_weights(token)  # a study's removed weights: one line, before predicting
    progress = contextlib.nullcontext() if quiet else stderr().status("predicting the test set")
    with progress:
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
    rival = _runner_up(runs, study, storage)
    if rival is not None and rival["within_noise"]:
        chosen = _short([prov["runs"][0]["run_id"]])[0]
        stderr().print(
            f"warning: run {chosen}'s lead over the runner-up, run {_short([rival['run_id']])[0]}"
            f" (same validation images), is within noise: it scores better in only "
            f"{100 * rival['probability']:.0f}% of paired bootstrap resamples (95% would be real)",
            soft_wrap=True,
            highlight=False,
        )
    if json:
        paths = {"csv_path": str(result.csv_path), "json_path": str(result.json_path)}
        print_json({**prov, **paths, "runner_up": rival})
        return
    rows = [
        ("source", _source(_entry(prov))),
        ("shape", _shape(prov.get("submission") or {})),
        ("metric", metric_title(prov.get("metric"))),
        ("validation score", _with_interval(prov)),
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
    console.print(f"wrote {result.csv_path}", soft_wrap=True, highlight=False)
    console.print(f"provenance {result.json_path}", soft_wrap=True, highlight=False)
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


LEADERBOARD_COLUMNS = (
    Column("created", "id"),
    Column("competition", drop=4),
    Column("source", min_width=10, drop=2),
    Column("settings", min_width=8, drop=5, hide_empty=True),
    Column("metric", drop=3),
    Column("val", "number"),
    Column("val 95% CI", "number", drop=1, hide_empty=True),
    Column("local test", "number"),
    Column("file", "id", drop=6),
)


def leaderboard_command(
    competition: Annotated[
        str | None, typer.Argument(help="Competition name or folder (default: all).")
    ] = None,
    json: JsonOption = False,
) -> None:
    """All submissions, newest first: source (run short ids or study trials), validation
    score with its 95% bootstrap interval, local test score, file.

    Scores and file names are never cut: on a narrow terminal the source and settings are cut
    with an ellipsis, then file, settings, competition, metric, source and the interval are
    left out, in that order.
    """
    from toolkit.submit import list_submissions

    entries = list_submissions(competition=competition)
    if competition is not None and not entries:
        _check_known(competition)
    if json:
        print_json(entries)
        return
    console = stdout()
    print_listing(leaderboard_listing(entries, console.width), console)
    if not entries:
        stderr().print(
            "no submissions yet: try 'tk submit --run ID' (kept in ./submissions or "
            "$TOOLKIT_SUBMISSIONS)"
        )


def leaderboard_listing(entries: list[dict[str, Any]], width: int) -> Listing:
    """The table of ``tk leaderboard`` fitted to ``width`` characters."""
    rows = [
        (
            (e["created"] or "")[:16].replace("T", " "),
            e["competition"],
            _source(e),
            _settings(e),
            metric_title(e.get("metric")),
            format_score(e["validation_score"], e.get("metric")),
            format_interval(e.get("validation_interval"), e.get("metric")),
            format_score(e["local_test_score"], e.get("local_test_metric") or e.get("metric")),
            e["file"],
        )
        for e in entries
    ]
    return listing(f"Submissions ({len(rows)})", LEADERBOARD_COLUMNS, rows, width)


def _check_known(competition: str) -> None:
    """A competition with no submissions must at least exist: a folder, or a name under the
    submissions root; anything else is a typo, said in one line."""
    from toolkit.submit import list_submissions
    from toolkit.submit.paths import submissions_root

    if Path(competition).is_dir() or (submissions_root() / Path(competition).name).is_dir():
        return
    known = sorted({str(e["competition"]) for e in list_submissions()})
    hint = f"competitions with submissions: {', '.join(known)}" if known else "none yet"
    raise ToolkitError(
        f"unknown competition '{competition}': not a folder and no submissions for it ({hint})."
    )


def _with_interval(prov: dict[str, Any]) -> str:
    """The validation score and, when recorded, its 95% bootstrap interval in brackets."""
    shown = format_score(prov["validation_score"], prov.get("metric"))
    interval = format_interval(prov.get("validation_interval"), prov.get("metric"))
    return f"{shown} ({interval}, 95% CI)" if interval else shown


def _runner_up(runs: list[str], study: str | None, storage: str | None) -> dict[str, Any] | None:
    """How a single submitted run's lead over the runner-up holds up
    (:func:`toolkit.runs.noise.runner_up`): among the study's trial runs for ``--study``, else
    among every run under $TOOLKIT_RUNS; None for an average of several runs."""
    from toolkit.runs import find_run, list_runs
    from toolkit.runs.noise import runner_up

    if len(runs) != 1:
        return None
    candidates = list_runs()
    if study is not None:
        from toolkit.tune import trial_rows

        ids = {r["run_id"] for r in trial_rows(study, storage) if r["run_id"]}
        candidates = [r for r in candidates if r.get("id") in ids]
    try:
        return runner_up(find_run(runs[0]), candidates)
    except ToolkitError:
        return None


def _source(entry: dict[str, Any]) -> str:
    if entry.get("study"):
        trials = [f"#{t}" for t in entry.get("trials") or [] if t is not None]
        return " ".join([f"study {entry['study']}", *trials])
    return "run " + ", ".join(_short(str(r) for r in entry.get("runs") or []))


def _entry(prov: dict[str, Any]) -> dict[str, Any]:
    """The leaderboard's fields of a provenance record that :func:`_source` reads."""
    runs = prov.get("runs") or []
    return {
        "study": prov.get("study"),
        "trials": [r.get("trial") for r in runs],
        "runs": [r.get("run_id") for r in runs],
    }


def _short(run_ids: Any) -> list[str]:
    """Short run ids (:func:`toolkit.runs.store.short_run_ids`), in order."""
    from toolkit.runs.store import short_run_ids

    ids = list(run_ids)
    short = short_run_ids(ids)
    return [short[i] for i in ids]


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
