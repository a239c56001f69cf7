"""``tk refit``: train a finished run's configuration again on every training image."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli._common import (
    JsonOption,
    QuietOption,
    StorageOption,
    load_competition_arg,
    print_json,
    stdout,
)


def refit_command(
    run: Annotated[
        str,
        typer.Argument(
            help="Run id (a unique prefix is enough), run folder, or a study (its best trial)."
        ),
    ],
    storage: StorageOption = None,
    quiet: QuietOption = False,
    json: JsonOption = False,
) -> None:
    """Train RUN's configuration (or a study's best trial's) again on train + validation
    (val_fraction = 0) for the same number of steps, and save it as a new run that says which
    run it refits. Submit it with tk submit --run NEW_ID (it has no validation score of its
    own: RUN's is the estimate)."""
    from toolkit.runs import cv, store
    from toolkit.submit.folder_predict import resolve_source
    from toolkit.train import train
    from toolkit.train.refit import refit_config

    source = store.find_run(resolve_source(run, storage))  # a run, else a study's best run
    record = source.read()
    rows_from = source  # a cross-validation: its first fold's steps, its config less folds
    if cv.is_group(record) and record.get("status") == "completed":
        rows_from = cv.fold_runs(source, record)[0]
        record = record | {"config": rows_from.read().get("config") or record.get("config")}
    config = refit_config(record | {"id": source.id}, rows_from.read_metrics())
    comp = load_competition_arg(record.get("competition_path"), quiet=quiet, config=config)
    extra = {"refit_of": source.id, "recipe": record.get("recipe")}
    result = train(config, comp, quiet=quiet, extra=extra)
    if json:
        print_json({"run_id": result.run_id, "path": str(result.path), **result.metrics})
        return
    from toolkit.cli._common import table
    from toolkit.cli.train import _metric_rows, print_run_header

    console = stdout()
    print_run_header(result.run_id, result.status, result.path, console)
    short = store.short_run_ids([source.id])[source.id]
    console.print(table(f"Refit of {short}", ["", ""], _metric_rows(result.metrics)))
