"""``tk predict``: a run's (or a study's best run's) predictions for a folder of new images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli._common import JsonOption, StorageOption, print_json, stdout


def predict_command(
    source: Annotated[
        str,
        typer.Argument(
            metavar="RUN_OR_STUDY",
            help="A run (id, unique prefix or folder) or a study (its best completed trial).",
        ),
    ],
    folder: Annotated[Path, typer.Argument(help="A folder of images (the files directly in it).")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="The CSV to write. (default: predictions/<folder>-<run>.csv)"
        ),
    ] = None,
    tta: Annotated[
        bool | None,
        typer.Option(
            "--tta/--no-tta",
            help="Test-time augmentation: every view the run trained on. Default: as the run "
            "validated (its tta setting), as tk submit.",
        ),
    ] = None,
    storage: StorageOption = None,
    json: JsonOption = False,
) -> None:
    """Predict every image in FOLDER with a run, decoded as the run's test set was (its image
    size, resize mode and channels) and with its test-time augmentation, and write a CSV with
    the columns file,label,p_<class>... (the file's name, the most probable class, one
    probability per class)."""
    from rich.text import Text

    from toolkit.submit import TTARequest
    from toolkit.submit.folder_predict import default_csv, predict_folder, write_predictions

    prediction = predict_folder(source, folder, storage=storage, tta=TTARequest(enabled=tta))
    path = write_predictions(prediction, out or default_csv(folder, prediction.run_id))
    if json:
        print_json(
            {
                "csv": str(path),
                "run_id": prediction.run_id,
                "images": len(prediction.files),
                "classes": prediction.classes,
                "tta": prediction.tta,
            }
        )
        return
    console = stdout()
    console.print(
        Text(f"{len(prediction.files)} images predicted by run {prediction.run_id}"),
        soft_wrap=True,
    )
    console.print(Text(f"predictions {path}"), soft_wrap=True)
