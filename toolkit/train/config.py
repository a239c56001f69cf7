"""The run configuration: one frozen dataclass, every field defaulted and explained.

``--set key=value`` overrides (CLI and study files) go through :func:`apply_overrides`, and
every setting key is read by :func:`setting_key`, the one place that knows the grammar:
``lr=0.01`` or ``train.lr=0.01`` sets a training field, ``data.classes=cat,dog`` a data field,
``submission.kind=top-k`` a submission field, and ``encoder.X`` / ``loss.X`` / ``head.X`` a
plugin parameter (checked against the plugin). Durations (``budget``) read ``90s``/``10m``/``1h``
wherever a setting is read (:func:`.durations.parse_duration`).
"""

from __future__ import annotations

import ast
import dataclasses
import math
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union, get_args, get_origin, get_type_hints

from toolkit.errors import ToolkitError
from toolkit.train.durations import parse_duration

PLUGIN_SECTIONS = ("encoder", "loss", "head")
FIELD_SECTIONS = ("train", "data")  # train.X / data.X name the training field X
# Keys that were plugin parameters before they became training fields; still accepted.
LEGACY_KEYS = {
    "loss.l2": "l2",
    "head.init_from": "init_from",
    "head.encoder_lr_scale": "encoder_lr_scale",
}
DURATION_KEYS = frozenset({"budget"})  # float fields that also read 90s / 10m / 1h
RESIZE_MODES = ("crop", "pad", "stretch")  # the data stage's modes (toolkit.data.RESIZE_MODES)
SUBMISSION_KINDS = ("label", "probability", "class-probabilities", "top-k")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a run. Saved whole in each run folder."""

    # -- what to train --------------------------------------------------------------------
    encoder: str = "fastnet"  # encoder plugin name (tk plugins list --kind encoder)
    loss: str = "softmax-ce"  # loss plugin: a logit loss, or an embedding loss (triplet, supcon)
    head: str = "finetune"  # head plugin: finetune trains end to end; linear-probe/mlp freeze
    encoder_params: Mapping[str, Any] = field(default_factory=dict)  # encoder.X=...
    loss_params: Mapping[str, Any] = field(default_factory=dict)  # loss.X=...
    head_params: Mapping[str, Any] = field(default_factory=dict)  # head.X=...

    # -- data ----------------------------------------------------------------------------
    classes: tuple[str, ...] = ()  # train on these classes only (e.g. two for bce); () = all
    val_fraction: float = 0.1  # stratified, seeded validation split of the train set
    # k-fold cross-validation (tk train --folds K): K runs, fold k validating on the k-th of K
    # stratified, seeded folds (scikit-learn's StratifiedKFold); val_fraction is then unused
    folds: int = 0  # K >= 2; 0 = one held-out split of val_fraction
    fold: int = 0  # the fold this run validates on, 0..K-1 (set by tk train --folds)
    # Pseudo-labels: confident test predictions added to the train split (never validation)
    pseudo_labels: str = ""  # a run id/folder or a submission CSV that predicted the test set
    pseudo_threshold: float = 0.9  # keep test images whose top probability is at least this
    crop_pad: int = 0  # random-crop augmentation: pad by this many pixels, crop back; 0 = off
    flip: bool = False  # random horizontal flips (off: digits and text are not symmetric)
    # flips' draw (none without flip): random (p = 0.5 each epoch) | alternate (airbench: a seeded
    # half flipped in epoch 1, then each image the opposite of its last epoch's; train.batches)
    flip_mode: str = "random"
    rrc_scale: float = 0.0  # random-resized-crop: smallest area kept, e.g. 0.35; 0 = off
    # Mixup / CutMix: Beta(alpha, alpha) mixes of image pairs within a batch, 0 = off; both on:
    # one or the other per batch. Only a head trained end to end (finetune) uses them, and not
    # in the last 10% of training (toolkit.train.mixing.MIX_UNTIL)
    mixup: float = 0.0  # mixup alpha, e.g. 0.2
    cutmix: float = 0.0  # CutMix alpha, e.g. 1.0
    # Progressive resizing (toolkit.train.resizing): training batches start at this fraction of
    # the images' side and grow linearly to full size by progressive_until of each stage (its
    # time under a budget); evaluation and prediction always see the full size
    progressive_resize: float = 0.0  # e.g. 0.5: 32-px images start at 16 px; 0 = off
    progressive_until: float = 0.5  # the stage's progress from which batches are full size
    image_size: int = 0  # data.image_size: square side images are resized to; 0 = automatic
    resize: str = "crop"  # data.resize: crop (centre) | pad (letterbox) | stretch

    # -- the competition's submission and metric ------------------------------------------
    metric: str = ""  # accuracy, log_loss, roc_auc, f1_macro, qwk, map@k...; "" = by the shape
    submission_kind: str = ""  # label | probability | class-probabilities | top-k; "" = sample's
    submission_k: int = 0  # top-k: labels per row; 0 = from the sample (else 5)
    submission_positive_class: str = ""  # probability: the positive class; "" = the second

    # -- optimisation --------------------------------------------------------------------
    optimizer: str = "adam"  # adam | adamw | sgd (SGD uses Nesterov momentum)
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 0.0  # decoupled for adamw, coupled (L2 in the gradient) otherwise
    momentum: float = 0.9  # SGD momentum / Adam beta1
    batch_size: int = 256  # images per step
    epochs: float = 10.0  # passes over the train split (fractions allowed)
    iterations: int = 0  # if > 0, train for exactly this many steps instead of epochs
    budget: float = 0.0  # wall-clock seconds for the whole run; > 0 shapes the schedule to it
    warmup: float = 0.0  # fraction of training spent warming the learning rate up from 0
    schedule: str = "cosine"  # cosine | linear | constant: decay after warm-up, ending at 0
    label_smoothing: float = 0.0  # used by the head stage's default loss (embedding runs)
    l2: float = 0.0  # L2 penalty lambda on the trained weight matrices (not biases); 0 = none
    # lr x this (weight decay / this) for biases and norm scales (airbench: 64); 1 = same lr
    bias_lr_scale: float = 1.0
    # Fine-tuning (a head that trains the encoder): the encoder's lr = lr * encoder_lr_scale.
    encoder_lr_scale: float = 0.0  # 0 = automatic: 1.0, or 0.1 for pretrained weights
    init_from: str = ""  # fine-tune from this encoder: run id, run folder or .safetensors
    # EMA of the weights (toolkit.train.ema), updated every step, scored at each evaluation;
    # at a stage's end the raw weights are scored too and the better ones kept
    ema: float = 0.0  # the EMA's decay per step, e.g. 0.999; 0 = off
    # SWA-style weight averaging (toolkit.train.averaging): the mean of the weights at the
    # stage's last N evaluations, kept only when it scores better on validation
    average_last: int = 0  # N >= 2 evaluations averaged; 0 = off
    # Lookahead (toolkit.train.lookahead): every 5 steps slow += alpha * (fast - slow), fast = slow
    lookahead: float = 0.0  # alpha in (0, 1), e.g. 0.5; 0 = off

    # -- evaluation and early stopping ---------------------------------------------------
    eval_every: int = 0  # evaluate every N steps; 0 = once per epoch
    early_stopping: str = "none"  # none | last-k (the assignment's rule) | patience
    patience: int = 25  # evaluations looked back on by the early-stopping rule
    tta: bool = False  # evaluate (and submit) averaged over flips; needs flip = true
    knn_k: int = 20  # neighbours for the kNN accuracy of embedding runs
    # t-SNE plot of the validation embeddings (embedding runs, tsne.png): auto = on for a run
    # of its own (tk train), off for tuning trials, where it cost more than the training
    tsne: str = "auto"  # auto | on | off

    # -- frozen-encoder heads (linear-probe, mlp) and the head stage of embedding runs ----
    head_epochs: float = 30.0  # passes over the cached features
    head_lr: float = 1e-2  # learning rate of the head trained on frozen features
    head_batch_size: int = 256  # feature rows per step
    head_iterations: int = 0  # if > 0, exactly this many head steps instead of head_epochs

    # -- machine ---------------------------------------------------------------------------
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    compile: bool = False  # torch.compile the model (CUDA; pays off only for long runs)
    # With a budget: probe this machine's speed and pick encoder.width (1.0 or 0.5), the widest
    # that still trains enough epochs (toolkit.train.autosize); a set encoder.width wins.
    autosize: bool = False
    # auto: bf16 autocast on CUDA and on CPUs with native bf16 (avx512_bf16 / AMX, detected at
    # run time; 2.3-3x fp32's images per second for fastnet on 2 AMX cores),
    # else fp32. $TOOLKIT_PRECISION overrides auto.
    precision: str = "auto"  # auto | fp32 | bf16
    threads: int = 0  # CPU threads for torch; 0 = all cores
    seed: int = 0  # seeds the split, the init, the batches and the augmentation

    # -- logging -------------------------------------------------------------------------
    # TensorBoard event files in the run folder (tensorboard --logdir runs/): auto = when the
    # tensorboard package is installed (pip install "toolkit-ic[tensorboard]"), like Lightning
    tensorboard: str = "auto"  # auto | on (error if not installed) | off

    @property
    def has_validation(self) -> bool:
        """Whether the run holds training images back to validate on (a fold, or a split)."""
        return self.folds >= 2 or self.val_fraction > 0

    def split(self, y: Any, names: Sequence[object] = ()) -> tuple[Any, Any]:
        """(train, validation) rows of labels ``y``: this run's fold or held-out split."""
        from toolkit.data import split_validation

        return split_validation(
            y, self.val_fraction, self.seed, names=names, folds=self.folds, fold=self.fold
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["classes"] = list(self.classes)
        for key in ("encoder_params", "loss_params", "head_params"):
            out[key] = dict(out[key])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ToolkitError(f"unknown config keys {unknown}; valid keys: {sorted(names)}.")
        values = dict(data)
        _migrate_legacy_params(values)
        if "classes" in values:
            values["classes"] = tuple(str(c) for c in values["classes"])
        return cls(**values)


def field_names() -> list[str]:
    """The training fields a user may set (plugin params go through encoder./loss./head.)."""
    return [f.name for f in dataclasses.fields(TrainConfig) if not f.name.endswith("_params")]


@dataclass(frozen=True)
class SettingKey:
    """Where a setting key points: a training field or a plugin parameter."""

    section: str  # "train" (a TrainConfig field) or a plugin section: encoder | loss | head
    name: str  # the field's name, or the plugin parameter's name


def setting_key(raw: str, *, noun: str = "setting") -> SettingKey:
    """Read a setting key: the one grammar for ``--set``, study files and search spaces.

    ``lr``, ``train.lr`` and ``data.classes`` name training fields; ``submission.kind`` the
    field ``submission_kind``; ``encoder.X``/``loss.X``/``head.X`` plugin parameters (checked
    against the plugin by the registry). An unknown training field is an error with a hint
    (``noun`` names the key in it: a study file speaks of parameters).
    """
    key = raw.strip()
    key = LEGACY_KEYS.get(key, key)
    section, dot, rest = key.partition(".")
    if dot and section in PLUGIN_SECTIONS:
        return SettingKey(section, rest)
    if dot and section in FIELD_SECTIONS:
        key = rest
    elif dot and section == "submission":
        key = f"submission_{rest}"
    if key not in field_names():
        import difflib

        close = difflib.get_close_matches(key, field_names(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ToolkitError(
            f"unknown {noun} '{raw}'{hint}; set a training field such as lr=0.01, or a "
            "plugin parameter as encoder.NAME=, loss.NAME= or head.NAME=."
        )
    return SettingKey("train", key)


def apply_overrides(config: TrainConfig, overrides: Mapping[str, Any]) -> TrainConfig:
    """Return ``config`` with ``overrides`` applied; string values are parsed by field type."""
    changes: dict[str, Any] = {}
    params = {s: dict(getattr(config, f"{s}_params")) for s in PLUGIN_SECTIONS}
    hints = get_type_hints(TrainConfig)
    for raw_key, value in overrides.items():
        key = setting_key(raw_key)
        if key.section in PLUGIN_SECTIONS:
            params[key.section][key.name] = parse_value(value) if isinstance(value, str) else value
        else:
            changes[key.name] = _coerce(key.name, hints[key.name], value)
    for section in PLUGIN_SECTIONS:
        changes[f"{section}_params"] = params[section]
    return dataclasses.replace(config, **changes)


def _migrate_legacy_params(values: dict[str, Any]) -> None:
    """Move settings that older runs stored as plugin parameters to their training fields."""
    for legacy, name in LEGACY_KEYS.items():
        section, _, param = legacy.partition(".")
        params = values.get(f"{section}_params")
        if isinstance(params, Mapping) and param in params:
            rest = dict(params)
            values.setdefault(name, rest.pop(param))
            values[f"{section}_params"] = rest


MAX_VALUE_CHARS = 4096  # longer --set values are a mistake (a pasted file), not a setting


def parse_overrides(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Parse ``["lr=0.01", "loss.margin=0.5"]`` into a dict; malformed pairs are an error."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ToolkitError(f"--set expects key=value, got {pair[:60]!r}; e.g. --set lr=0.01.")
        if len(value) > MAX_VALUE_CHARS:
            raise ToolkitError(
                f"the value of {key.strip()[:60]!r} is {len(value):,} characters long; settings "
                f"take short values (at most {MAX_VALUE_CHARS:,})."
            )
        out[key.strip()] = value.strip()
    return out


def parse_value(text: str) -> Any:
    """Parse a plugin parameter from text: Python/TOML-ish literals, else the string itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _coerce(key: str, hint: Any, value: Any) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        hint = next(a for a in get_args(hint) if a is not type(None))
        origin = get_origin(hint)
    try:
        if origin is tuple:
            if isinstance(value, str):
                items = [v.strip() for v in value.split(",") if v.strip()]
            else:
                items = list(value)
            return tuple(str(v) for v in items)
        if hint is bool:
            if isinstance(value, str):
                if value.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.strip().lower() in ("true", "1", "yes")
            return bool(value)
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(float(value)) if isinstance(value, str) else int(value)
        if hint is float:
            if key in DURATION_KEYS and isinstance(value, str):
                return parse_duration(value, allow_zero=True)
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(value)
            return number
        return str(value)
    except (TypeError, ValueError):
        name = getattr(hint, "__name__", str(hint))
        if hint in (int, float):  # inf and nan read as numbers but never are a setting's
            name = f"a finite {name}"
        raise ToolkitError(f"setting '{key}' must be {name}, got {value!r}.") from None


def validate(config: TrainConfig) -> None:
    """Check ranges and choices that no type annotation can express."""
    checks = [
        (config.optimizer in ("adam", "adamw", "sgd"), "optimizer must be adam, adamw or sgd"),
        (config.schedule in ("cosine", "linear", "constant"), "schedule: cosine|linear|constant"),
        (config.precision in ("auto", "fp32", "bf16"), "precision must be auto, fp32 or bf16"),
        (
            config.early_stopping in ("none", "last-k", "patience"),
            "early_stopping must be none, last-k or patience",
        ),
        (config.lr > 0 and config.head_lr > 0, "learning rates must be > 0"),
        (config.batch_size >= 2 and config.head_batch_size >= 2, "batch sizes must be >= 2"),
        (config.epochs > 0 or config.iterations > 0 or config.budget > 0, "nothing to train"),
        (config.epochs >= 0 and config.iterations >= 0, "epochs/iterations must be >= 0"),
        (config.budget >= 0, "budget must be >= 0 seconds"),
        (0.0 <= config.val_fraction < 1.0, "val_fraction must be in [0, 1)"),
        (
            config.has_validation or config.early_stopping == "none",
            "early stopping needs a validation split: set val_fraction > 0 (e.g. 0.1) or "
            "early_stopping=none",
        ),
        (0.0 <= config.warmup < 1.0, "warmup must be a fraction in [0, 1)"),
        (config.patience >= 1, "patience must be >= 1"),
        (config.crop_pad >= 0, "crop_pad must be >= 0"),
        (config.l2 >= 0, "l2 must be >= 0 (0: no penalty)"),
        (config.encoder_lr_scale >= 0, "encoder_lr_scale must be >= 0 (0: automatic)"),
        (config.head_epochs > 0, "head_epochs must be > 0"),
        (0.0 <= config.rrc_scale < 1.0, "rrc_scale must be in [0, 1); 0 turns it off"),
        (
            0.0 <= config.progressive_resize < 1.0 and 0.0 < config.progressive_until <= 1.0,
            "progressive_resize is a fraction of the side in [0, 1) (0: off) and "
            "progressive_until a fraction of training in (0, 1]",
        ),
        (0 <= config.image_size <= 1024, "data.image_size must be 0 (automatic) to 1024"),
        (config.resize in RESIZE_MODES, "data.resize must be one of crop, pad, stretch"),
        (
            config.submission_kind in ("", *SUBMISSION_KINDS),
            "submission.kind must be label, probability, class-probabilities or top-k",
        ),
        (config.submission_k >= 0, "submission.k must be >= 0 (0: from the sample)"),
        (config.threads >= 0, "threads must be >= 0 (0: all cores)"),
        (config.tensorboard in ("auto", "on", "off"), "tensorboard must be auto, on or off"),
        (config.eval_every >= 0, "eval_every must be >= 0 (0: once per epoch)"),
        (config.knn_k >= 1, "knn_k must be >= 1"),
        (config.tsne in ("auto", "on", "off"), "tsne must be auto, on or off"),
        (config.head_iterations >= 0, "head_iterations must be >= 0"),
        (config.mixup >= 0 and config.cutmix >= 0, "mixup and cutmix are alphas >= 0 (0: off)"),
        (0.0 <= config.ema < 1.0, "ema is a decay in [0, 1), e.g. 0.999 (0: off)"),
        (0.0 <= config.lookahead < 1.0, "lookahead is an alpha in [0, 1), e.g. 0.5 (0: off)"),
        (config.bias_lr_scale > 0, "bias_lr_scale must be > 0 (1: the weights' lr)"),
        (config.flip_mode in ("random", "alternate"), "flip_mode must be random or alternate"),
        (config.folds >= 0 and config.folds != 1, "folds must be 0 (off) or at least 2"),
        (
            0 <= config.fold < max(config.folds, 1),
            f"fold must be in 0..{max(config.folds, 1) - 1} (folds = {config.folds})",
        ),
        (0.0 < config.pseudo_threshold <= 1.0, "pseudo_threshold must be in (0, 1]"),
        (
            config.average_last >= 0 and config.average_last != 1,
            "average_last must be 0 (off) or at least 2 evaluations",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ToolkitError(f"invalid training setting: {message}.")
    if config.tensorboard != "off":  # on without the package: say so before any run starts
        from toolkit.runs.tensorboard import wanted

        wanted(config.tensorboard)
