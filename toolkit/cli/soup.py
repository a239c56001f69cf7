"""``tk soup``: the greedy weight soup of a study's best trials, written as a new run."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli._common import JsonOption, StorageOption, print_json, stdout


def soup_command(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: StorageOption = None,
    top_k: Annotated[
        int, typer.Option("--top-k", min=2, help="Average at most the k best trials.")
    ] = 5,
    json: JsonOption = False,
) -> None:
    """Average the weights of STUDY's best trials greedily (a model soup): starting from the
    best trial, each next one of the same architecture joins when the average scores better
    on the validation split (BatchNorm statistics recomputed). The soup is saved as a new run
    (submit it with tk submit --run ID); when no soup beats the best trial nothing is written
    and the best trial is the one to submit."""
    from toolkit.tune.soup import greedy_soup

    result = greedy_soup(study, storage, k=top_k)
    if json:
        print_json(result.to_dict())
        return
    from rich.text import Text

    from toolkit.cli._common import format_score, metric_title, table
    from toolkit.cli.train import print_run_header
    from toolkit.runs.store import short_run_ids

    console = stdout()
    ids = result.candidates + [entry["run_id"] for entry in result.left_out]
    short = short_run_ids(ids)
    rows = [
        (short[rid], format_score(score, result.metric), "kept" if rid in result.kept else "")
        for rid, score in zip(result.candidates, result.scores, strict=True)
    ]
    rows += [(short[e["run_id"]], "", f"left out: {e['reason']}") for e in result.left_out]
    columns = ["candidate", f"val {metric_title(result.metric)}", "kept?"]
    console.print(table(f"Soup of study {study}", columns, rows))
    print_run_header(result.run_id, "completed", result.path, console)
    score = format_score(result.metrics.get("val_score"), result.metric)
    console.print(Text(f"{len(result.kept)} trials averaged; val {score}"))
