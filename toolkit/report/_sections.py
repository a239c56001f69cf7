"""The sections of a report: a run, a study, a competition's runs and its leaderboard."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.report._html import esc, figures, image, note, pairs, table
from toolkit.runs.store import RunDir

PERCENT = ("accuracy", "balanced_accuracy", "f1_macro", "f1_micro", "map@")


def score(value: Any, metric: str | None = "accuracy") -> str:
    """A metric's value as the tables show it: accuracy-like as percentages, others 4 places."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "" if value is None else str(value)
    name = metric or "accuracy"
    if name.startswith(PERCENT) or name.endswith("_acc"):
        return f"{100 * value:.2f}%"
    return f"{value:.4f}"


def metric_title(metric: str | None) -> str:
    from toolkit.errors import ToolkitError
    from toolkit.metrics import get_metric

    try:
        return str(get_metric(metric or "accuracy").title)
    except ToolkitError:
        return str(metric)


def run_section(run: RunDir, *, heading: str | None = None) -> str:
    """A run's record, settings, per-class accuracy, curves, confusion matrix and t-SNE."""
    from toolkit.train.config import TrainConfig

    record = run.read()
    config = record.get("config") or {}
    metrics = record.get("metrics") or {}
    metric = metrics.get("metric") or (record.get("metric") or {}).get("name") or "accuracy"
    title = metric_title(metric)
    machine = record.get("machine") or {}
    parts = [f"<h2>{esc(heading or 'Run ' + run.id)}</h2>", '<div class="cols">']
    parts.append(
        pairs(
            [
                ("run", run.id),
                ("competition", record.get("competition")),
                ("status", record.get("status")),
                ("error", record.get("error")),
                ("pipeline", _pipeline(config)),
                (f"val {title}", score(metrics.get("val_score"), metric)),
                (f"val {title}, last evaluation", score(metrics.get("val_score_last"), metric)),
                (f"test {title} (answer key)", score(metrics.get("test_score"), metric)),
                ("train / val / test accuracy", _accuracies(metrics)),
                ("val kNN accuracy", score(metrics.get("val_knn_acc"))),
                ("duration", _seconds(record.get("duration_s"))),
                ("evaluations / steps", _slash(record.get("evaluations"), record.get("steps"))),
                ("device, precision", _slash(machine.get("device"), machine.get("precision"))),
                ("started", record.get("started")),
                ("trial", _trial(record)),
            ]
        )
    )
    defaults = TrainConfig().to_dict()
    changed = [
        (key, _value(value))
        for key, value in config.items()
        if key not in ("encoder", "loss", "head") and value != defaults.get(key) and value != {}
    ]
    if changed:
        parts.append(table(["setting (not at its default)", "value"], changed))
    per_class = metrics.get("per_class_val_acc") or {}
    if per_class:
        rows = [(c, score(a)) for c, a in per_class.items()]
        parts.append(table(["class", "val accuracy"], rows, numeric=[1]))
    parts.append("</div>")
    figs, missing = [], []
    if run.file("curves.png").is_file():  # two panels: a row of its own
        caption = "training loss and validation score per evaluation"
        parts.append(image(run.file("curves.png"), caption, width=760))
    for name, caption in (
        ("confusion.png", "confusion matrix of the validation split (rows: true class)"),
        ("tsne.png", "t-SNE of the validation embeddings"),
    ):
        if run.file(name).is_file():
            figs.append(image(run.file(name), caption))
        elif name == "tsne.png":
            missing.append(_why_no_tsne(config))
        else:
            missing.append(f"no {name}: the run did not write it (not finished?)")
    parts.append(figures(figs))
    parts += [note(text) for text in missing]
    return "\n".join(parts)


def study_section(name: str, storage: str | None) -> tuple[str, str | None]:
    """A study's summary, trials, plots and its best trial's run; and that run's competition."""
    from toolkit.errors import ToolkitError
    from toolkit.runs.store import find_run
    from toolkit.tune.plots import study_plots
    from toolkit.tune.report import load, study_metric, trial_rows

    study = load(name, storage)
    metric = study_metric(study)
    title = metric_title(metric)
    rows = trial_rows(name, storage)
    states: dict[str, int] = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
    best = next((r for r in rows if r["best"]), None)
    parts = [f"<h2>Study {esc(name)}</h2>"]
    parts.append(
        pairs(
            [
                ("study", name),
                ("metric", f"{title} ({study.direction.name.lower()})"),
                ("trials", ", ".join(f"{n} {s}" for s, n in states.items()) or "none"),
                ("best trial", None if best is None else f"#{best['number']}"),
                (f"best val {title}", None if best is None else score(best["value"], metric)),
                ("best parameters", None if best is None else _params(best["params"])),
            ]
        )
    )
    parts.append("<h3>Trials</h3>")
    parts.append(
        table(
            ["trial", "state", "pruned at evaluation", f"val {title}", "time", "params", "run"],
            [
                (
                    r["number"],
                    r["state"],
                    r["pruned_at_eval"],
                    score(r["value"], metric),
                    _seconds(r["duration_s"]),
                    _params(r["params"]),
                    r["run_id"],
                )
                for r in rows
            ],
            numeric=[0, 2, 3, 4],
            best=next((i for i, r in enumerate(rows) if r["best"]), None),
        )
    )
    if best is None:
        parts.append(note("no complete trial yet: no plots and no best run to show"))
        return "\n".join(parts), None
    with tempfile.TemporaryDirectory() as tmp:
        plots = study_plots(study, Path(tmp), metric, name)
        parts.append("<h3>Plots</h3>")
        captions = {
            "history": "each trial's value and the best so far",
            "intermediate": "each trial's value at each evaluation: what the pruner compared",
            "importance": "how much each parameter explains the value (fANOVA)",
        }
        parts.append(figures([image(p, captions[k]) for k, p in plots.files.items()]))
        parts += [note(f"no {kind} plot: {why}") for kind, why in plots.notes.items()]
    competition = None
    trial = next(t for t in study.get_trials(deepcopy=False) if t.number == best["number"])
    if best.get("run_id"):
        try:
            run = find_run(str(trial.user_attrs.get("run_path") or best["run_id"]))
        except ToolkitError:  # a run folder deleted since: the study still reports
            parts.append(note(f"the best trial's run {best['run_id']} is no longer on disk"))
        else:
            competition = run.read().get("competition")
            parts.append(run_section(run, heading=f"Best trial #{best['number']}: {run.id}"))
    return "\n".join(parts), competition


def runs_section(competition: str, records: Sequence[dict[str, Any]]) -> str:
    """A competition's runs, newest first."""
    rows = []
    for r in records:
        m, c = r.get("metrics") or {}, r.get("config") or {}
        metric = m.get("metric") or "accuracy"
        rows.append(
            (
                r.get("id"),
                _pipeline(c),
                r.get("status"),
                metric_title(metric),
                score(m.get("val_score"), metric),
                score(m.get("test_score"), metric),
                _seconds(r.get("duration_s")),
            )
        )
    return f"<h2>Runs on {esc(competition)}</h2>" + table(
        ["run", "pipeline", "status", "metric", "val", "test (answer key)", "time"],
        rows,
        numeric=[4, 5, 6],
    )


def leaderboard_section(competition: str | None, highlight: set[str] | None = None) -> str:
    """The local leaderboard of ``competition``: every submission, newest first."""
    from toolkit.submit.leaderboard import list_submissions

    head = f"<h2>Leaderboard{' of ' + esc(competition) if competition else ''}</h2>"
    if not competition:
        return head + note("the competition is not known, so there is no leaderboard to show")
    subs = list_submissions(competition=competition)
    if not subs:
        return head + note(f"no submissions for {competition} yet ('tk submit' makes one)")
    rows = [
        (
            s["created"],
            s["source"],
            metric_title(s["metric"]),
            score(s["validation_score"], s["metric"]),
            score(s["local_test_score"], s["local_test_metric"]),
            s["file"],
        )
        for s in subs
    ]
    mine = next(
        (i for i, s in enumerate(subs) if highlight and highlight & set(map(str, s["runs"]))),
        None,
    )
    return head + table(
        ["created", "source", "metric", "validation", "local test", "file"],
        rows,
        numeric=[3, 4],
        best=mine,
    )


def _pipeline(config: dict[str, Any]) -> str:
    return " + ".join(str(config.get(k, "")) for k in ("encoder", "loss", "head"))


def _why_no_tsne(config: dict[str, Any]) -> str:
    if config.get("tsne") == "off":
        return "no t-SNE: off for this run (tuning trials default to tsne=off; --set tsne=on)"
    return "no t-SNE: it is drawn for runs that train embeddings (triplet, supcon losses)"


def _accuracies(m: dict[str, Any]) -> str:
    values = [score(m.get(k)) or "-" for k in ("train_acc", "val_acc", "test_acc")]
    return "" if values == ["-"] * 3 else " / ".join(values)


def _trial(record: dict[str, Any]) -> str | None:
    if record.get("study") is None:
        return None
    return f"{record['study']} #{record.get('trial')}"


def _seconds(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f} s"


def _slash(a: Any, b: Any) -> str:
    return "" if a is None and b is None else f"{a} / {b}"


def _params(params: dict[str, Any]) -> str:
    return " ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)
