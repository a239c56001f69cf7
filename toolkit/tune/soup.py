"""Greedy model soups: the uniform average of a study's best trials' weights, kept when it helps.

A model soup (Wortsman et al. 2022, "Model soups") averages the weights of models that share an
architecture and a starting point (a study's trials share the seed, so the initial weights);
the average predicts in one forward pass, where an ensemble needs one per model. The greedy
recipe: take the runs best first, start from the best, and add each next run's weights to the
uniform average only when the averaged model scores better on the validation split.

- :func:`greedy_soup`: a study's completed trials, best first (:func:`.report.top_runs`), then
  :func:`soup_runs`.
- :func:`soup_runs`: checks the runs (:mod:`.soup_ingredients`: one not validated on the
  best's images refuses the soup, one of another architecture is left out) and cooks. Each
  average is put in the best run's model, its BatchNorm statistics are recomputed on training
  images (the statistics of an average belong to no model:
  :func:`toolkit.train.evaluate.refresh_batchnorm`, as training's evaluations do), and it is
  scored with the run's metric on the validation split, with the run's validation TTA. The
  best run alone is scored as it would be submitted: with its own statistics.
- A soup that beats the best run is written as a run folder of its own, in a trained run's
  format (checkpoint, run.json with ``soup_of`` and ``soup``, probabilities, metrics.json,
  confusion.png; no metrics.csv: nothing trained), so ``tk submit --run ID`` and ``tk predict``
  take it unchanged. When no run added to the best improves validation there is no soup:
  :class:`~toolkit.errors.ToolkitError` says to submit the best run.

Its validation score, like the best trial's, is the one it was chosen on: optimistic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import ToolkitError
from toolkit.tune.soup_ingredients import (
    Ingredient,
    check_split,
    competition_of,
    known_settings,
    read_ingredient,
    same_architecture,
    shape_difference,
    weights_of,
)

if TYPE_CHECKING:
    import torch

    from toolkit.data import Competition
    from toolkit.metrics import Metric
    from toolkit.runs.store import RunDir
    from toolkit.train.config import TrainConfig
    from toolkit.train.model import LoadedModel
    from toolkit.train.parts import Splits

# run.json's fields a soup copies from its best run: its competition, images and task.
COPIED = (
    "competition",
    "competition_path",
    "format",
    "data_fingerprint",
    "image_policy",
    "metric",
    "submission",
    "split_sizes",
)


@dataclass(frozen=True)
class SoupResult:
    """The soup's run folder and how it was cooked."""

    run_id: str
    path: Path
    metric: str  # the runs' metric (toolkit.metrics name)
    candidates: list[str]  # run ids tried, best first (the first is the soup's start)
    scores: list[float]  # the metric on validation of the average tried with each candidate
    kept: list[str]  # the ingredients: run ids averaged in the soup
    left_out: list[dict[str, str]]  # {"run_id", "reason"}: another architecture
    metrics: dict[str, Any]  # the soup run's final metrics (as in its run.json)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``tk soup --json``)."""
        return {**dataclasses.asdict(self), "path": str(self.path)}


def greedy_soup(
    study: str,
    storage: str | None = None,
    *,
    k: int = 5,
    runs_root: Path | None = None,
    device: str = "auto",
) -> SoupResult:
    """The greedy soup of the ``k`` best completed trials of ``study`` (see :func:`soup_runs`)."""
    from toolkit.tune.report import storage_text, top_runs
    from toolkit.tune.storage import default_url

    if k < 2:
        raise ToolkitError(f"a soup averages at least 2 trials; pass --top-k 2 or more, not {k}.")
    paths = top_runs(study, storage, k)
    source = {"study": study, "storage": storage_text(storage or default_url(study))}
    return soup_runs(paths, runs_root=runs_root, device=device, source=source)


def soup_runs(
    run_paths: Sequence[str | Path],
    *,
    runs_root: Path | None = None,
    device: str = "auto",
    source: Mapping[str, Any] | None = None,
) -> SoupResult:
    """Greedily average the weights of ``run_paths`` (run folders or ids, best first) and write
    the soup as a new run under ``runs_root`` (default: runs/); ``source`` is recorded in its
    ``soup`` entry (the study it came from). Runs of another architecture than the first are
    left out; runs validated on other images are refused; a soup that does not beat the first
    run on validation is not written (:class:`ToolkitError`)."""
    from toolkit.train.config import TrainConfig
    from toolkit.train.device import resolve_device
    from toolkit.train.model import load_model
    from toolkit.train.parts import load_splits
    from toolkit.train.task import resolve_task

    t0 = time.perf_counter()
    ingredients = [read_ingredient(p) for p in run_paths]
    if len(ingredients) < 2:
        raise ToolkitError(
            "a soup averages at least 2 runs; give more runs (or a larger --top-k)."
        )
    check_split(ingredients)
    best = ingredients[0]
    same, left_out = same_architecture(ingredients)
    config = TrainConfig.from_dict(known_settings(best.record.get("config") or {}))
    comp = competition_of(config, best)
    dev = resolve_device(device)
    splits = load_splits(config, comp, dev)
    metric = resolve_task(config, comp).metric
    model = load_model(str(best.run.path), device=dev)  # the soup is cooked in this model
    cook = _Cook(model, splits, config, metric)
    candidates, scores, kept = _greedy(cook, same, left_out)
    if len(kept) == 1:
        raise ToolkitError(
            f"no soup beats the best run {best.run.id} ({metric.name} {scores[0]:.4f} on "
            f"validation; {len(scores) - 1} run(s) tried, {len(left_out)} of another "
            "architecture); submit the best run."
        )
    soup = {
        **dict(source or {}),
        "metric": metric.name,
        "candidates": candidates,
        "scores": [round(s, 6) for s in scores],
        "kept": kept,
        "left_out": left_out,
    }
    run, summary = _write(best, cook, comp, soup, runs_root, t0)
    return SoupResult(run.id, run.path, metric.name, candidates, scores, kept, left_out, summary)


# -- cooking -------------------------------------------------------------------------------------


def _greedy(
    cook: _Cook, ingredients: Sequence[Ingredient], left_out: list[dict[str, str]]
) -> tuple[list[str], list[float], list[str]]:
    """Cook greedily from the first ingredient (its model is the cook's): (run ids tried, the
    metric of each average tried, run ids kept). The soup is left in the cook's model; runs
    whose weights turn out to be shaped otherwise join ``left_out``."""
    start = cook.weights()
    total = {k: v.double() for k, v in start.items() if v.is_floating_point()}  # kept's sum
    best_value = cook.score()
    candidates, scores, kept = [ingredients[0].run.id], [best_value], [ingredients[0].run.id]
    for other in ingredients[1:]:
        weights = weights_of(other)
        reason = shape_difference(start, weights)
        if reason:
            left_out.append({"run_id": other.run.id, "reason": reason})
            continue
        tried = {k: v + weights[k] for k, v in total.items()}
        value = cook.score(tried, len(kept) + 1, start)
        candidates.append(other.run.id)
        scores.append(value)
        if cook.metric.better(value, best_value):
            total, best_value = tried, value
            kept.append(other.run.id)
    cook.put(total, len(kept), start)  # the soup again (the same seeded BatchNorm recount)
    return candidates, scores, kept


class _Cook:
    """The best run's model, into which averages are put and scored on validation."""

    def __init__(
        self, model: LoadedModel, splits: Splits, config: TrainConfig, metric: Metric
    ) -> None:
        import torch

        from toolkit.train.batches import Normalizer
        from toolkit.train.tta import validation_tta

        self.model, self.splits, self.config, self.metric = model, splits, config, metric
        self.tta = validation_tta(config.to_dict())
        device = splits.y_train.device
        stats = model.meta["normalizer"]
        self.normalizer = Normalizer(
            torch.tensor(stats["mean"], device=device), torch.tensor(stats["std"], device=device)
        )

    def weights(self) -> dict[str, torch.Tensor]:
        """The model's tensors now, as a checkpoint names them (CPU copies)."""
        from toolkit.runs.checkpoint import state_tensors

        return state_tensors(self.model.encoder, self.model.head)

    def put(
        self, total: Mapping[str, torch.Tensor], count: int, start: Mapping[str, torch.Tensor]
    ) -> None:
        """Put the mean ``total / count`` in the model (integer tensors: ``start``'s) and
        recompute its BatchNorm statistics on a seeded sample of the train split."""
        import torch

        from toolkit.runs.checkpoint import load_into
        from toolkit.train import evaluate as ev

        state = {k: (total[k] / count).to(v.dtype) if k in total else v for k, v in start.items()}
        model, splits = self.model, self.splits
        load_into(model.encoder, state, "encoder.", "the soup")
        load_into(model.head, state, "head.", "the soup")
        gen = torch.Generator().manual_seed(self.config.seed)  # as training's evaluations
        sample = torch.randperm(len(splits.y_train), generator=gen)[: ev.BN_REFRESH_IMAGES]
        ev.refresh_batchnorm(
            [model.encoder, model.head],
            lambda xb: model.head(model.encoder(xb)),
            splits.x_train[sample.to(splits.y_train.device)],
            self.normalizer,
            batch_size=self.config.batch_size,
        )

    def score(
        self,
        total: Mapping[str, torch.Tensor] | None = None,
        count: int = 1,
        start: Mapping[str, torch.Tensor] | None = None,
    ) -> float:
        """The metric on validation of the mean ``total / count`` (None: the model as it is)."""
        from toolkit.train import evaluate as ev

        if total is not None:
            assert start is not None
            self.put(total, count, start)
        probs = self.model.predict_probs(self.splits.x_val, tta=self.tta)
        return ev.metric_value(self.metric, probs, self.splits.y_val)


def _write(
    best: Ingredient,
    cook: _Cook,
    comp: Competition,
    soup: dict[str, Any],
    runs_root: Path | None,
    t0: float,
) -> tuple[RunDir, dict[str, Any]]:
    """Measure the soup as a finished run is measured and write its run folder."""
    import torch

    from toolkit.runs import checkpoint as ckpt
    from toolkit.runs import store
    from toolkit.runs.artifacts import write_artifacts
    from toolkit.train.device import native_bf16
    from toolkit.train.final import final_metrics
    from toolkit.train.parts import Model
    from toolkit.train.plan import plugin_kinds
    from toolkit.train.stages import Setup

    began = time.localtime(time.time() - (time.perf_counter() - t0))
    config, splits, loaded = cook.config, cook.splits, cook.model
    meta = loaded.meta
    kinds = plugin_kinds(config, splits.num_classes)
    model = Model(
        encoder=loaded.encoder,
        forward_encoder=loaded.encoder,
        loss=loaded.loss,  # final_metrics reads only the head's loss
        head=loaded.head,
        head_loss=loaded.loss,
        head_loss_name=meta["head_loss"],
        head_loss_params=dict(meta["head_loss_params"]),
        logits_dim=int(meta["logits_dim"]),
        normalizer=cook.normalizer,
        kinds=kinds,
    )
    setup = Setup(config, cook.metric, contextlib.nullcontext, torch.Generator(), cook.tta)
    metrics = final_metrics(config, comp, model, splits, setup)
    summary = metrics.summary()
    device = splits.y_train.device
    record = {
        "status": "running",
        **{k: best.record[k] for k in COPIED if k in best.record},
        "config": best.record.get("config"),
        "machine": {
            "device": str(device),
            "threads": torch.get_num_threads(),
            "precision": "fp32",
            "cpu_native_bf16": native_bf16(),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", began),
        "soup_of": soup["kept"],
        "soup": soup,
    }
    label = f"soup-{config.encoder}-{config.head}".replace(":", "-").replace("/", "-")
    run = store.create_run(label, record, runs_root)
    try:
        described = {k: v for k, v in meta.items() if k not in ("format", "sha256")}
        tensors = ckpt.state_tensors(loaded.encoder, loaded.head)
        digest = ckpt.save(run, tensors, described)
        write_artifacts(run, [], metrics, kinds.embedding_loss, tsne=False)
        run.update(
            status="completed",
            error=None,
            metrics=summary,
            checkpoint_sha256=digest,
            finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
            duration_s=round(time.perf_counter() - t0, 2),
        )
    except BaseException as err:
        with contextlib.suppress(Exception):  # the disk that failed may fail this too
            run.update(status="failed", error=str(err) or type(err).__name__)
        raise
    return run, summary
