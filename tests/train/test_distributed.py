"""DDP training under torchrun: 2 CPU processes (gloo) against one process, and who writes.

Each torchrun test starts ``python -m torch.distributed.run --standalone --nproc_per_node 2
-m toolkit train ...`` on the digits example with one thread per process, and compares with the
same config trained in this process. Sharding and the environment are unit-tested without
processes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._torchrun import run_torchrun
from toolkit.data import Competition
from toolkit.errors import ToolkitError
from toolkit.train import TrainConfig, train
from toolkit.train.batches import balanced_batches
from toolkit.train.distributed import World, shard

RUN_FILES = {
    "run.json",
    "metrics.csv",
    "checkpoint.safetensors",
    "checkpoint.json",
    "val_probs.npy",
    "val_labels.npy",
    "test_probs.npy",
    "metrics.json",
    "curves.png",
    "confusion.png",
}


@pytest.fixture(scope="module")
def cache(digits_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data cache holding digits already, so the ranks of each launch only read it."""
    from toolkit.data import load_competition

    folder = tmp_path_factory.mktemp("ddp-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLKIT_CACHE", str(folder))
        load_competition(digits_dir)
    yield folder


def _torchrun(
    digits_dir: Path, cache: Path, tmp_path: Path, args: list[str]
) -> tuple[dict[str, object], Path]:
    """Run ``tk train`` on 2 ranks; return rank 0's JSON and the one run folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(
        TOOLKIT_THREADS="1",
        TOOLKIT_RUNS=str(tmp_path / "ddp-runs"),
        TOOLKIT_CACHE=str(cache),
    )
    proc, rank_out = run_torchrun(
        ["train", str(digits_dir), *args, "--json"], tmp_path, env, tmp_path / "logs"
    )
    assert proc.returncode == 0, f"{proc.stderr[-3000:]}\n{rank_out}"  # both ranks exited 0
    runs = list((tmp_path / "ddp-runs").iterdir())
    assert len(runs) == 1, runs  # one run folder: only rank 0 made one
    assert _only_warnings(rank_out[1]), rank_out[1]
    return json.loads(rank_out[0][0]), runs[0]


def _only_warnings(out_err: tuple[str, str]) -> bool:
    """Rank 1 prints nothing of its own: no JSON, no table, no progress bar, no error."""
    out, err = out_err
    return out == "" and not any(s in err for s in ("━", "run_id", "error", "Traceback"))


def _single(cfg: TrainConfig, digits: Competition, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOOLKIT_THREADS", "1")
    result = train(cfg, digits, quiet=True)
    assert result.path is not None
    return result.path


def _settings(cfg: TrainConfig) -> list[str]:
    out = ["--encoder", cfg.encoder, "--loss", cfg.loss, "--head", cfg.head]
    defaults = TrainConfig().to_dict()
    for key, value in cfg.to_dict().items():
        if key.endswith("_params"):
            section = key.removesuffix("_params")
            out += [x for k, v in value.items() for x in ("--set", f"{section}.{k}={v}")]
        elif key not in ("encoder", "loss", "head") and value != defaults[key]:
            out += ["--set", f"{key}={value}"]
    return out


def _metrics_rows(run: Path) -> list[str]:
    return run.joinpath("metrics.csv").read_text().splitlines()[1:]


# -- two processes ---------------------------------------------------------------------------


def test_ddp_equals_one_process_without_batchnorm(
    digits: Competition,
    digits_dir: Path,
    cache: Path,
    runs_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Softmax regression trained end to end: DDP with global batch 64 IS the 1-process run.

    No BatchNorm and no augmentation, so the two ranks' averaged gradients are the whole
    batch's: the same evaluations, the same early stop, the same probabilities (to float
    rounding; measured max difference 3e-7).
    """
    cfg = TrainConfig(
        encoder="pixels",
        head="finetune",
        epochs=40,
        batch_size=64,
        lr=0.05,
        early_stopping="last-k",
        patience=2,
    )
    one = _single(cfg, digits, monkeypatch)
    result, run = _torchrun(digits_dir, cache, tmp_path, _settings(cfg))
    assert {p.name for p in run.iterdir()} == RUN_FILES  # and nothing else, no temp files
    rows, rows_one = _metrics_rows(run), _metrics_rows(one)
    assert len(rows) == len(rows_one) < 40  # early stopping fired at the same evaluation
    assert [r.split(",")[3] for r in rows] == [r.split(",")[3] for r in rows_one]  # steps
    record, record_one = (json.loads((p / "run.json").read_text()) for p in (run, one))
    assert record["status"] == "completed" and record["steps"] == record_one["steps"]
    assert record["images_seen"] == record_one["images_seen"]  # global batches, counted once
    for name in ("val_probs.npy", "test_probs.npy"):
        assert np.allclose(np.load(run / name), np.load(one / name), atol=1e-4)
    assert result["val_acc"] == record_one["metrics"]["val_acc"]


def test_ddp_fastnet_matches_one_process_within_tolerance(
    digits: Competition,
    digits_dir: Path,
    cache: Path,
    runs_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """FastNet (BatchNorm) fine-tuned for 3 epochs at global batch 64: per-rank BatchNorm
    statistics make DDP differ a little. Measured over seeds 0-4 (2 ranks vs 1 process):
    |val diff| <= 2.8 points (4 of 144 images), |test diff| <= 0.6 points (2 of 359)."""
    cfg = TrainConfig(epochs=3, batch_size=64, lr=2e-3, encoder_params={"width": 0.25})
    one = json.loads((_single(cfg, digits, monkeypatch) / "run.json").read_text())["metrics"]
    result, run = _torchrun(digits_dir, cache, tmp_path, _settings(cfg))
    assert isinstance(result["val_acc"], float) and isinstance(result["test_acc"], float)
    assert result["val_acc"] >= 0.9 and result["test_acc"] >= 0.9
    assert abs(result["val_acc"] - one["val_acc"]) <= 0.05
    assert abs(result["test_acc"] - one["test_acc"]) <= 0.03
    assert len(_metrics_rows(run)) == 3  # one evaluation per epoch, written once


def test_ddp_budget_run_agrees_on_when_to_stop(
    digits_dir: Path, cache: Path, tmp_path: Path
) -> None:
    """Triplet encoder under a 6 s budget (the ranks agree on the clock's progress), then a
    linear probe that rank 0 trains alone on frozen features; both ranks exit 0."""
    args = [
        "--encoder",
        "convnet4",
        "--loss",
        "triplet",
        "--head",
        "linear-probe",
        "--set",
        "encoder.embedding_dim=32",
        "--set",
        "encoder.hidden=256",
        "--set",
        "batch_size=64",
        "--set",
        "head_epochs=3",
        "--budget",
        "6s",
    ]
    result, run = _torchrun(digits_dir, cache, tmp_path, args)
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "completed" and record["steps"] > 0
    stages = [r.split(",")[1] for r in _metrics_rows(run)]
    assert stages[0] == "encoder" and stages[-1] == "head"  # the budget sets how many
    assert {p.name for p in run.iterdir()} == RUN_FILES | {"tsne.png"}
    assert isinstance(result["val_knn_acc"], float) and result["val_knn_acc"] >= 0.8


# -- helpers, without processes --------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 64, 65])
@pytest.mark.parametrize("size", [1, 2, 3, 8])
def test_shards_partition_a_batch(n: int, size: int) -> None:
    idx = torch.randperm(100)[:n]
    parts = [shard(idx, r, size) for r in range(size)]
    assert torch.equal(torch.cat(parts), idx)  # every index once, in order
    lengths = [len(p) for p in parts]
    assert max(lengths) - min(lengths) <= 1


def test_shards_of_a_balanced_batch_keep_positives() -> None:
    """P classes x K images in class order: each of 2 ranks gets whole classes, K each."""
    labels = torch.arange(10).repeat_interleave(20)
    batch = next(balanced_batches(labels, 40, torch.Generator().manual_seed(0), 1))  # 10 x 4
    for rank in (0, 1):
        counts = torch.bincount(labels[shard(batch, rank, 2)], minlength=10)
        assert set(counts.tolist()) == {0, 4}


def test_world_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert World.from_env() == World() and not World().distributed and World().is_main
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    world = World.from_env()
    assert (world.rank, world.size, world.local_rank, world.local_size) == (3, 4, 1, 2)
    assert world.distributed and not world.is_main
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ToolkitError, match="outside WORLD_SIZE"):
        World.from_env()


def test_batch_smaller_than_the_world_is_a_user_error(
    digits: Competition, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked before joining the process group, so no rank waits for another."""
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ToolkitError, match="batch_size=2 is smaller than the 4 processes"):
        train(TrainConfig(batch_size=2), digits, quiet=True)
    assert not runs_dir.exists()
