"""``tk assignment``: the course assignment reproduced, our numbers next to its numbers."""

from __future__ import annotations

from typing import Annotated

from toolkit.cli._common import (
    CompetitionArg,
    JsonOption,
    QuietOption,
    budget_option,
    load_competition_arg,
    parse_duration,
    print_json,
    seed_option,
    stdout,
    table,
)


def assignment_command(
    competition: CompetitionArg = None,
    budget: Annotated[
        str,
        budget_option(
            "Wall-clock budget for all experiments together "
            "(e.g. 4m, 40m); iteration counts are the assignment's, capped by it."
        ),
    ] = "4m",
    seed: Annotated[int, seed_option("Seed for splits, init and batches.")] = 0,
    quiet: QuietOption = False,
    json: JsonOption = False,
) -> None:
    """Run the course assignment's pipeline and print our results next to the assignment's."""
    from toolkit.assignment import run_assignment

    comp = load_competition_arg(competition, quiet=quiet)
    rows = run_assignment(comp, budget=parse_duration(budget), seed=seed, quiet=quiet)
    if json:
        print_json(rows)
        return
    stdout().print(
        table(
            f"The assignment on {comp.name} (budget {budget})",
            ["experiment", "assignment (CIFAR-10)", "ours", "run"],
            [(r["experiment"], r["assignment"], r["ours"], r["run_id"]) for r in rows],
        )
    )
