"""``tk tune`` under torchrun: each trial trains data-parallel on 2 CPU processes (gloo).

One launch, ``python -m torch.distributed.run --standalone --nproc_per_node 2 -m toolkit tune``,
on the digits example with each rank's output in its own log: rank 0 talks to Optuna and
writes, rank 1 trains every trial with it and prints nothing. (``--workers`` refused under
torchrun, and the launcher's choice of this path, are in test_launch.py.)
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import optuna

from tests._torchrun import run_torchrun
from toolkit.tune.storage import default_url, open_storage

# Softmax regression fine-tuned end to end (pixels + finetune), so both ranks train every trial
# (a linear probe on frozen features would leave the training to rank 0). Learning rates span
# four decades under Hyperband: with this name and seed, trial 2 is pruned at its third
# evaluation, so the abort that rank 0's pruning broadcasts is taken.
STUDY = """
[study]
name = "ddp-tune"
trials = 9
pruner = "hyperband"
sampler = "random"
seed = 0

[fixed]
epochs = 6
batch_size = 64
eval_every = 0

[[pipelines]]
encoder = "pixels"
loss = "softmax-ce"
head = "finetune"
default_space = false
space = { lr = { type = "float", low = 1e-5, high = 0.3, log = true } }
"""


def test_tune_under_torchrun_trains_each_trial_on_both_ranks(
    tune_env: Path, digits_path: Path
) -> None:
    from toolkit.data import load_competition

    load_competition(digits_path)  # fill the cache first: the ranks then only read it
    study_file = tune_env / "ddp-tune.toml"
    study_file.write_text(textwrap.dedent(STUDY))
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(TOOLKIT_THREADS="1")  # TOOLKIT_RUNS/STUDIES/CACHE: tune_env's temporary folders
    proc, out = run_torchrun(
        ["tune", str(study_file), str(digits_path), "--trials", "3"],
        tune_env,
        env,
        tune_env / "logs",
    )
    assert proc.returncode == 0, f"{proc.stderr[-3000:]}\n{out}"  # both ranks exited 0

    study = optuna.load_study(study_name="ddp-tune", storage=open_storage(default_url("ddp-tune")))
    states = [t.state.name for t in study.trials]
    assert len(states) == 3 and set(states) <= {"COMPLETE", "PRUNED"}, states  # none RUNNING
    assert "PRUNED" in states, states  # pruning on rank 0 stopped rank 1 too, which went on
    owners = {t.system_attrs.get("toolkit_owner") for t in study.trials}
    assert len(owners) == 1  # one worker: rank 0 claimed every trial
    runs = sorted(p.name for p in (tune_env / "runs").iterdir())
    assert runs == sorted(Path(t.user_attrs["run_path"]).name for t in study.trials)
    assert "ddp-tune" in out[0][0]  # rank 0 showed the study
    assert out[1][0] == "" and not any(s in out[1][1] for s in ("━", "study", "Traceback"))
