"""Study files: a TOML spec of what to tune, parsed and checked before any trial runs.

Example (complete ones ship in ``toolkit/studies/``; ``tk study new`` copies one)::

    [study]
    name = "digits-compare"       # default: the file's stem
    competition = "data/digits"   # optional; the command line may give it instead
    trials = 12                   # finished trials wanted, across all workers
    metric = "log_loss"           # optional; default: by the submission's shape
    timeout = "10m"               # optional wall-clock limit per worker
    pruner = "asha"               # asha | hyperband | median | wilcoxon | none
    folds = 5                     # optional: k-fold trials (pruner: wilcoxon by default)
    sampler = "tpe"               # tpe | random
    keep_checkpoints = 3          # checkpoints kept for the best trials

    [fixed]                       # settings for every trial (TrainConfig fields, plugin params)
    epochs = 8

    [space]                       # searched for every pipeline, on top of the plugins' spaces
    batch_size = [64, 128, 256]

    [[pipelines]]                 # one or more: a study may pit pipelines against each other
    encoder = "convnet4"
    loss = "triplet"
    head = "linear-probe"
    fixed = { "encoder.embedding_dim" = 64 }
    space = { "loss.margin" = { type = "float", low = 0.1, high = 2.0, log = true } }

Setting keys (in ``[fixed]``, ``[space]`` and a pipeline's ``fixed``/``space``) follow the one
grammar of :func:`toolkit.train.config.setting_key`: a training field (``lr``, ``train.lr``,
``data.image_size``) or ``encoder.X`` / ``loss.X`` / ``head.X``. The spec stores each key in
one spelling (a training field by its name, a plugin parameter as ``section.X``), so ``train.lr``
and ``lr`` are the same setting. By default each pipeline searches the spaces its plugins
declare; ``default_space = false`` in a pipeline turns that off. A key given in the file
replaces the plugin's range for that key, and a fixed key is not searched.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.registry import Dimension, dimension_from_dict
from toolkit.train.config import PLUGIN_SECTIONS, SettingKey, setting_key
from toolkit.tune.folds import FOLD_PRUNERS, check_fold_pruner, spec_folds, study_folds
from toolkit.tune.study_files import find_study

# built by toolkit.tune.pruning.make_pruner
PRUNERS = ("asha", "hyperband", "median", "wilcoxon", "none")
DEFAULT_PRUNER = "asha"

STUDY_KEYS = {
    "name",
    "competition",
    "trials",
    "timeout",
    "pruner",
    "sampler",
    "seed",
    "keep_checkpoints",
    "objective",
    "direction",
    "metric",
    "folds",
}
PIPELINE_KEYS = {"encoder", "loss", "head", "fixed", "space", "default_space", "name"}


@dataclass(frozen=True)
class Pipeline:
    """One encoder + loss + head combination and what to fix and search for it."""

    encoder: str
    loss: str
    head: str
    fixed: Mapping[str, Any] = field(default_factory=dict)  # setting -> value
    space: Mapping[str, Dimension] = field(default_factory=dict)  # setting -> dimension

    @property
    def label(self) -> str:
        return f"{self.encoder}+{self.loss}+{self.head}"


@dataclass(frozen=True)
class StudySpec:
    """A parsed, checked study file."""

    name: str
    pipelines: tuple[Pipeline, ...]
    competition: str | None = None  # folder; the CLI argument wins
    trials: int = 20  # finished (complete or pruned) trials wanted in total
    timeout: float | None = None  # seconds per worker, or None
    # asha | hyperband | median | wilcoxon | none (toolkit.tune.pruning); wilcoxon with folds
    pruner: str = DEFAULT_PRUNER
    sampler: str = "tpe"  # tpe | random
    seed: int | None = None  # sampler seed (None: random)
    keep_checkpoints: int = 3  # best trials whose checkpoints are kept
    fixed: Mapping[str, Any] = field(default_factory=dict)  # for every pipeline
    source: str = ""  # the file it came from
    metric: str = ""  # the objective's metric; "" = the competition's default for its shape

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (search ranges as their dict form); :meth:`from_dict` reads it."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pipelines"}
        out["fixed"] = dict(self.fixed)
        out["pipelines"] = [
            {
                "encoder": p.encoder,
                "loss": p.loss,
                "head": p.head,
                "fixed": dict(p.fixed),
                "space": {key: dim.to_dict() for key, dim in p.space.items()},
            }
            for p in self.pipelines
        ]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudySpec:
        """Inverse of :meth:`to_dict` (the spec was checked when it was parsed)."""
        pipelines = tuple(
            Pipeline(
                p["encoder"],
                p["loss"],
                p["head"],
                dict(p["fixed"]),
                {key: dimension_from_dict(key, dim) for key, dim in p["space"].items()},
            )
            for p in data["pipelines"]
        )
        return cls(**{**data, "pipelines": pipelines, "fixed": dict(data["fixed"])})


def with_fixed(spec: StudySpec, settings: Mapping[str, Any]) -> StudySpec:
    """``spec`` with ``settings`` added to its ``[fixed]`` (they win over the file's)."""
    fixed = dict(spec.fixed)
    for raw, value in settings.items():
        fixed[_spelling(setting_key(raw))] = value
    out = replace(spec, fixed=fixed)
    if (
        study_folds(out.fixed, [p.fixed for p in out.pipelines]) >= 2
        and out.pruner not in FOLD_PRUNERS
    ):
        out = replace(out, pruner="wilcoxon")  # trials now report per fold, not per epoch
    return out


def load_spec(path: str | Path, *, overrides: Mapping[str, Any] | None = None) -> StudySpec:
    """Read and check a study file; ``overrides`` replace ``[study]`` keys (CLI options).

    ``path`` is a file, or a study's name (``compare``): see :func:`find_study`.
    """
    found = find_study(path)
    try:
        data = tomllib.loads(found.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ToolkitError(
            f"study file {found} does not exist; `tk study new NAME` writes one to edit."
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ToolkitError(f"cannot read study file {found}: {err}.") from None
    except tomllib.TOMLDecodeError as err:
        raise ToolkitError(f"study file {found} is not valid TOML: {err}.") from None
    return parse_spec(data, name=Path(found.name).stem, source=str(found), overrides=overrides)


def parse_spec(
    data: Mapping[str, Any],
    *,
    name: str,
    source: str = "",
    overrides: Mapping[str, Any] | None = None,
) -> StudySpec:
    """Build a :class:`StudySpec` from parsed TOML, checking every name and range."""
    where = source or name
    unknown = set(data) - {"study", "fixed", "space", "pipelines"}
    if unknown:
        raise ToolkitError(
            f"{where}: unknown top-level table(s) {sorted(unknown)}; use [study], [fixed], "
            "[space] and [[pipelines]]."
        )
    study = dict(_table(data, "study", where))
    study.update({k: v for k, v in (overrides or {}).items() if v is not None})
    bad = set(study) - STUDY_KEYS
    if bad:
        raise ToolkitError(
            f"{where}: unknown [study] key(s) {sorted(bad)}; valid: {sorted(STUDY_KEYS)}."
        )
    fixed = _settings(_table(data, "fixed", where), where)
    if "folds" in study:  # [study] folds = K: every trial a K-fold cross-validation
        fixed["folds"] = _number(study["folds"], "folds", where, integer=True)
    shared_space = _space(_table(data, "space", where), where)
    raw_pipelines = data.get("pipelines")
    if not isinstance(raw_pipelines, list) or not raw_pipelines:
        raise ToolkitError(
            f"{where}: no [[pipelines]]; add at least one with encoder, loss and head."
        )
    pipelines = tuple(_pipeline(p, i, shared_space, where) for i, p in enumerate(raw_pipelines))
    labels = [p.label for p in pipelines]
    if len(set(labels)) != len(labels):
        raise ToolkitError(f"{where}: the same pipeline is listed twice ({labels}).")
    for p in pipelines:
        _check_settings({**fixed, **p.fixed}, p, where)
        _check_settings(dict.fromkeys(p.space, None), p, where, values=False)
    trials = _number(study.get("trials", 20), "trials", where, integer=True)
    keep = _number(study.get("keep_checkpoints", 3), "keep_checkpoints", where, integer=True)
    timeout = study.get("timeout")
    if timeout is not None:
        from toolkit.train.durations import parse_duration

        try:
            timeout = parse_duration(timeout) if isinstance(timeout, str) else float(timeout)
        except (ToolkitError, TypeError, ValueError) as err:
            raise ToolkitError(f"{where}: [study] timeout: {err}") from None
        if not 0 < timeout < float("inf"):
            raise ToolkitError(
                f"{where}: [study] timeout must be positive and finite (e.g. 10m), "
                f"got {study['timeout']!r}."
            )
    if trials < 1:
        raise ToolkitError(f"{where}: trials must be at least 1, got {trials}.")
    if keep < 1:
        raise ToolkitError(f"{where}: keep_checkpoints must be at least 1, got {keep}.")
    folds = spec_folds(fixed, pipelines, shared_space, where)
    pruner = str(study.get("pruner", "wilcoxon" if folds >= 2 else DEFAULT_PRUNER))
    sampler = str(study.get("sampler", "tpe"))
    if pruner not in PRUNERS:
        raise ToolkitError(
            f"{where}: pruner must be {', '.join(PRUNERS[:-1])} or {PRUNERS[-1]}, not {pruner!r}."
        )
    check_fold_pruner(pruner, folds, where)
    if sampler not in ("tpe", "random"):
        raise ToolkitError(f"{where}: sampler must be tpe or random, not {sampler!r}.")
    if study.get("objective", "val_score") not in ("val_score", "val_acc"):
        raise ToolkitError(
            f"{where}: the objective is the validation score of the study's metric; choose "
            'the metric with metric = "log_loss" (or accuracy, roc_auc, f1_macro, qwk, ...).'
        )
    if "direction" in study:
        raise ToolkitError(
            f"{where}: direction follows the metric (log_loss is minimised, the others "
            "maximised); remove the direction key."
        )
    metric = str(study.get("metric", "") or "")
    if metric:
        from toolkit.metrics import get_metric

        try:
            get_metric(metric)
        except ToolkitError as err:
            raise ToolkitError(f"{where}: {err}") from None
    name_value = str(study.get("name", name))
    if not name_value or not all(c.isalnum() or c in "-_." for c in name_value):
        raise ToolkitError(
            f"{where}: study name {name_value!r} must use letters, digits, '-', '_' or '.'."
        )
    seed = study.get("seed")
    return StudySpec(
        name=name_value,
        pipelines=pipelines,
        competition=str(study["competition"]) if study.get("competition") else None,
        trials=int(trials),
        timeout=timeout,
        pruner=pruner,
        sampler=sampler,
        seed=None if seed is None else int(seed),
        keep_checkpoints=int(keep),
        fixed=fixed,
        source=source,
        metric=metric,
    )


def _pipeline(raw: Any, index: int, shared: dict[str, Dimension], where: str) -> Pipeline:
    from toolkit.registry import encoders, heads, losses

    if not isinstance(raw, dict):
        raise ToolkitError(f"{where}: pipeline {index + 1} must be a table.")
    bad = set(raw) - PIPELINE_KEYS
    if bad:
        raise ToolkitError(
            f"{where}: pipeline {index + 1} has unknown key(s) {sorted(bad)}; "
            f"valid: {sorted(PIPELINE_KEYS)}."
        )
    missing = [k for k in ("encoder", "loss", "head") if not raw.get(k)]
    if missing:
        raise ToolkitError(f"{where}: pipeline {index + 1} needs {', '.join(missing)}.")
    enc, loss, head = str(raw["encoder"]), str(raw["loss"]), str(raw["head"])
    space: dict[str, Dimension] = {}
    if raw.get("default_space", True):
        for section, registry, plugin in (
            ("encoder", encoders, enc),
            ("loss", losses, loss),
            ("head", heads, head),
        ):
            info = registry.info(plugin)  # unknown plugin: an error with close names
            if info.status != "ok":
                raise ToolkitError(f"{where}: {info.error}")
            for key, dim in info.space.items():  # a parameter of the plugin, or train.X
                space[_key(key if "." in key else f"{section}.{key}", where)] = dim
    else:
        for registry, plugin in ((encoders, enc), (losses, loss), (heads, head)):
            registry.get(plugin)
    space.update(shared)
    space.update(_space(raw.get("space", {}), where))
    fixed = raw.get("fixed", {})
    if not isinstance(fixed, dict):
        raise ToolkitError(f"{where}: pipeline {index + 1}'s fixed must be a table.")
    fixed = _settings(fixed, where)
    for key in fixed:  # a fixed setting is not searched
        space.pop(key, None)
    return Pipeline(enc, loss, head, fixed, space)


def _check_settings(
    settings: Mapping[str, Any], p: Pipeline, where: str, *, values: bool = True
) -> None:
    """Every key must be a training field or a parameter of the pipeline's plugins."""
    from toolkit.registry import encoders, heads, losses

    registries = {
        "encoder": (encoders, p.encoder),
        "loss": (losses, p.loss),
        "head": (heads, p.head),
    }
    keys = [setting_key(k) for k in settings]  # stored spellings: no unknown field is left
    for key, value in zip(keys, settings.values(), strict=True):
        if key.section in PLUGIN_SECTIONS:
            registry, plugin = registries[key.section]
            checked = value if values and not isinstance(value, Mapping) else None
            try:  # the value's type too: it would fail every trial, not the file
                registry.check_params(plugin, {key.name: checked})
            except ToolkitError as err:
                raise ToolkitError(f"{where}: {err}") from None
        elif key.name in PLUGIN_SECTIONS:
            raise ToolkitError(f"{where}: set {key.name} in [[pipelines]], not as a setting.")
    if values:
        from toolkit.train.compose import compose_config
        from toolkit.train.config import validate

        try:  # a value of the wrong type or range: the file and the key, in one line
            cfg = compose_config(encoder=p.encoder, loss=p.loss, head=p.head, settings=settings)
            if any(key.section == "train" for key in keys):
                validate(cfg)
        except ToolkitError as err:
            raise ToolkitError(f"{where}: {err}") from None
        if not cfg.has_validation:
            raise ToolkitError(
                f"{where}: val_fraction = 0 leaves no validation split to compare trials on; "
                "tune with val_fraction > 0, then `tk refit` the best run on every image."
            )


def _key(raw: str, where: str) -> str:
    """A setting key in the spelling the spec stores (``train.lr`` -> ``lr``, ``loss.l2`` ->
    ``l2``, ``loss.margin`` stays): read by :func:`~toolkit.train.config.setting_key`."""
    try:
        return _spelling(setting_key(raw, noun="parameter"))
    except ToolkitError as err:
        raise ToolkitError(f"{where}: {err}") from None


def _spelling(key: SettingKey) -> str:
    return key.name if key.section == "train" else f"{key.section}.{key.name}"


def _settings(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    return {_key(str(k), where): v for k, v in raw.items()}


def _space(raw: Any, where: str) -> dict[str, Dimension]:
    if not isinstance(raw, dict):
        raise ToolkitError(f"{where}: a space must be a table of key = range.")
    return {_key(str(k), where): _dimension(str(k), v, where) for k, v in raw.items()}


def _dimension(key: str, spec: Any, where: str) -> Dimension:
    try:
        return dimension_from_dict(key, spec)
    except ToolkitError as err:
        raise ToolkitError(f"{where}: {err}") from None


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ToolkitError(f"{where}: [{key}] must be a table.")
    return value


def _number(value: Any, key: str, where: str, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolkitError(f"{where}: {key} must be a number, got {value!r}.")
    if integer and float(value) != int(value):
        raise ToolkitError(f"{where}: {key} must be a whole number, got {value!r}.")
    return value
