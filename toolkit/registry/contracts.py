"""The plugin contracts: what the core may read from a built encoder, loss and head.

Who calls what:
- ``Registry.create`` calls :func:`check` once on every plugin it builds, so a plugin that
  forgets a member (or sets it to a bad value) fails at once, with an error naming the plugin,
  its ``module:object`` and the member, instead of being read with a silent default later.
- The core then reads the members of :class:`Encoder`, :class:`Loss` (:class:`LogitLoss` or
  :class:`EmbeddingLoss`, by its ``target``) and :class:`Head` directly, and optional traits
  only through the accessors here: :func:`data_config`, :func:`preferred_image_size`,
  :func:`weight_source_params` and :func:`init_from_data`.
- docs/PLUGINS.md's contract section is rendered from these classes
  (:mod:`toolkit.registry._contracts_doc`); a test fails when the two disagree.

Rules a check cannot see (shapes, dtypes, a loss that refuses a batch it cannot learn from)
are in the docstrings; ``tests/plugins`` checks them for every registered plugin. This module
imports no torch: ``Tensor`` appears in annotations only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args, get_origin, get_type_hints

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "DOC",
    "EmbeddingLoss",
    "Encoder",
    "Head",
    "LogitLoss",
    "Loss",
    "LossTarget",
    "Member",
    "check",
    "data_config",
    "init_from_data",
    "members",
    "preferred_image_size",
    "weight_source_params",
]

DOC = "docs/PLUGINS.md"  # where users read the contracts; named in every contract error

LossTarget = Literal["logits", "embeddings"]  # what a loss's forward consumes


class Encoder(Protocol):
    """Images to features.

    Built by `factory(in_channels: int, image_size: int, **params)`. It must work for any
    channel count (1, 3, 4) and any square size from 8 up (8x8 digits to 64x64 and beyond);
    never assume 32x32 or 10 classes.
    """

    out_dim: int  # D, the size of the (B, D) features forward returns; a positive int

    def forward(self, x: Tensor, /) -> Tensor:
        """`x` is (B, C, H, W) float32, normalised per channel, maybe `channels_last`;
        returns (B, out_dim) float32."""
        ...

    def __call__(self, x: Tensor, /) -> Tensor:
        """Runs ``forward`` (as ``nn.Module`` does)."""
        ...


class Loss(Protocol):
    """What training minimises.

    Built by `factory(num_classes: int, **params)`. Its `target` says what it consumes, and
    with it which contract it also meets: a logits loss (`LogitLoss`) or an embeddings loss
    (`EmbeddingLoss`). The L2 penalty on weights is a training setting (`--set l2=0.1`), not
    part of a loss.
    """

    # What forward consumes: "logits" (the head's output) or "embeddings" (the encoder's).
    target: LossTarget

    def forward(self, outputs: Tensor, labels: Tensor, /) -> Tensor:
        """`outputs` are (B, logits_dim) logits or (B, D) embeddings, `labels` (B,) int64;
        returns a scalar tensor."""
        ...

    def __call__(self, outputs: Tensor, labels: Tensor, /) -> Tensor:
        """Runs ``forward`` (as ``nn.Module`` does)."""
        ...


class LogitLoss(Loss, Protocol):
    """A loss with `target = "logits"`: it consumes the head's logits."""

    def logits_dim(self, num_classes: int, /) -> int:
        """How many outputs the head must produce for `num_classes` classes (1 for `bce`)."""
        ...

    def probabilities(self, logits: Tensor, /) -> Tensor:
        """(B, logits_dim) logits -> (B, num_classes) class probabilities; rows sum to 1
        (a softmax, or `[1 - sigmoid, sigmoid]` for a single logit)."""
        ...


class EmbeddingLoss(Loss, Protocol):
    """A loss with `target = "embeddings"`: it consumes the encoder's (B, D) embeddings.

    A batch from which nothing can be learnt (one class only, or no class with two images)
    raises `ToolkitError`, never a silent zero.
    """

    # True: the core draws batches of P classes x K images, so every batch holds positives;
    # False: shuffled batches.
    balanced_batches: bool


class Head(Protocol):
    """Features to class logits.

    Built by `factory(in_features: int, num_classes: int, **params)`, where `num_classes` is
    the loss's `logits_dim` (1 for `bce`). How fast the encoder trains under it and where its
    weights start are training settings (`--set encoder_lr_scale=0.1`,
    `--set init_from=RUN`), not part of a head.
    """

    # True: trained end to end with the encoder; False: trained on frozen features, which the
    # core extracts once and caches.
    trains_encoder: bool

    def forward(self, features: Tensor, /) -> Tensor:
        """(B, in_features) features -> (B, num_classes) logits."""
        ...

    def __call__(self, features: Tensor, /) -> Tensor:
        """Runs ``forward`` (as ``nn.Module`` does)."""
        ...


# -- optional traits, each read through one accessor ------------------------------------------

DATA_CONFIG_KEYS = ("mean", "std")  # what the core normalises with; input_size, source: info


def data_config(encoder: Encoder) -> dict[str, Any] | None:
    """An encoder's optional `data_config`: the input statistics of its loaded weights.

    `{"mean": (..), "std": (..), "input_size": int, "source": str}` with one mean and std per
    input channel in [0, 1] units; the core then normalises with them instead of the train
    split's. `None` (or no attribute): random weights, the core fits its own statistics.
    """
    value = getattr(encoder, "data_config", None)
    problem = _data_config_problem(value)
    if problem:
        raise ToolkitError(f"encoder {_type_name(encoder)} {problem}")
    return None if value is None else dict(value)


def preferred_image_size(factory: Callable[..., Any]) -> Callable[..., int | None] | None:
    """An encoder factory's optional `preferred_image_size(**params) -> int | None`.

    Called with the encoder's parameters before any data is loaded, it returns the input side
    its weights were trained at (224 for a pretrained `timm:resnet18`), which becomes the
    default image size; `None`: no preference.
    """
    return _optional_callable(
        factory,
        "preferred_image_size",
        "a function of the encoder's parameters returning a size or None",
    )


def weight_source_params(factory: Callable[..., Any]) -> tuple[str, ...]:
    """An encoder factory's optional `weight_source_params`: parameter names (a tuple of str).

    They name where the starting weights come from (a file, a cache); a model rebuilt from a
    run's own checkpoint is created without them. Empty when absent.
    """
    names = getattr(factory, "weight_source_params", ())
    if not isinstance(names, tuple | list) or not all(isinstance(n, str) for n in names):
        raise ToolkitError(
            f"encoder {_type_name(factory)} has weight_source_params={names!r}; make it a "
            f'tuple of parameter names, e.g. ("checkpoint",) ({DOC}).'
        )
    return tuple(names)


def init_from_data(encoder: Encoder) -> Callable[[Tensor], None] | None:
    """An encoder's optional `init_from_data(x: Tensor) -> None`: weights set from the data.

    The trainer calls it once before a fresh encoder trains (not one started from `init_from`
    or from pretrained weights), with `x` a float32 (N, C, H, W) batch of training images
    normalised as training sees them: a seeded sample of up to 5,000 (fewer when large). The
    weights it sets are saved like any others (`fastnet` with `whiten=True` sets its stem).
    """
    return _optional_callable(
        encoder, "init_from_data", "a method taking a batch of normalised training images"
    )


def _optional_callable(owner: Any, name: str, make_it: str) -> Callable[..., Any] | None:
    """``owner``'s optional hook ``name``: None when absent, an error when not callable."""
    hook = getattr(owner, name, None)
    if hook is not None and not callable(hook):
        raise ToolkitError(
            f"encoder {_type_name(owner)} has {name}={hook!r}; make it {make_it} ({DOC})."
        )
    return hook


# -- the check Registry.create runs ------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One member of a contract, as declared on its Protocol class."""

    name: str
    owner: type  # the Protocol class that declares it
    hint: Any  # the attribute's type (resolved), or None for a method
    signature: str  # "out_dim: int" or "logits_dim(num_classes: int) -> int"

    @property
    def is_method(self) -> bool:
        return self.hint is None


def members(contract: type) -> list[Member]:
    """The members ``contract`` declares itself (not inherited ones, no dunders): attributes
    in written order, then methods in written order."""
    hints = get_type_hints(contract)
    own = vars(contract)
    attributes = [
        Member(name, contract, hints[name], f"{name}: {_hint_text(hints[name])}")
        for name in own.get("__annotations__", {})
    ]
    methods = [
        Member(name, contract, None, _method_signature(name, value))
        for name, value in own.items()
        if inspect.isfunction(value) and not name.startswith("_")
    ]
    return attributes + methods


def check(contract: type, obj: object, *, kind: str, name: str, target: str) -> None:
    """Raise :class:`ToolkitError` unless ``obj``, the plugin ``name`` just built, meets
    ``contract`` (:class:`Encoder`, :class:`Loss` or :class:`Head`).

    A loss is also checked against :class:`LogitLoss` or :class:`EmbeddingLoss`, by its
    ``target``. The message names the plugin, its ``target`` (``module:object``) and the
    missing or badly typed member, and says what to set.
    """
    where = f"{kind} '{name}' ({target}) breaks the {kind} contract"
    if not callable(obj):
        raise ToolkitError(
            f"{where}: it built a {type(obj).__name__}, which is not callable; return a torch "
            f"nn.Module whose forward is {_forward_text(contract)} ({DOC})."
        )
    for member in _all_members(contract):
        _check_member(member, obj, where)
    if contract is Loss:
        refined = LogitLoss if getattr(obj, "target", None) == "logits" else EmbeddingLoss
        why = f'a loss with target "{obj.target}" needs it'  # type: ignore[attr-defined]
        for member in members(refined):
            _check_member(member, obj, where, why)
    if contract is Encoder:
        problem = _data_config_problem(getattr(obj, "data_config", None))
        if problem:
            raise ToolkitError(f"{where}: it {problem}")


def _all_members(contract: type) -> list[Member]:
    """Members of ``contract`` and of the contracts it extends, base ones first."""
    bases = [c for c in reversed(contract.__mro__) if c in _CONTRACTS]
    return [m for c in bases for m in members(c)]


def _check_member(member: Member, obj: object, where: str, why: str = "") -> None:
    if member.name == "forward":
        return  # the callable check covers it: nn.Module.__call__ runs forward
    need = f" ({why})" if why else ""
    if not hasattr(obj, member.name):
        kind = "method" if member.is_method else "attribute"
        raise ToolkitError(
            f"{where}: it has no {kind} `{member.name}`{need}; {_fix(member)} ({DOC})."
        )
    value = getattr(obj, member.name)
    if not (callable(value) if member.is_method else _value_fits(member.hint, value)):
        raise ToolkitError(f"{where}: `{member.name}` is {value!r}{need}; {_fix(member)} ({DOC}).")


def _value_fits(hint: Any, value: Any) -> bool:
    if get_origin(hint) is Literal:
        return isinstance(value, str) and value in get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:  # every int in a contract is a size: positive, and not a bool
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    return isinstance(value, hint)


def _fix(member: Member) -> str:
    """What to write so that ``member`` meets its contract."""
    if member.is_method:
        return f"define {member.signature}"
    hint = member.hint
    if get_origin(hint) is Literal:
        return f"set {member.name} = " + " or ".join(f'"{v}"' for v in get_args(hint))
    if hint is bool:
        return f"set {member.name} = True or False"
    if hint is int:
        return f"set {member.name} to a positive int"
    return f"set {member.name} to a {_hint_text(hint)}"


def _data_config_problem(value: Any) -> str:
    """Why ``value`` is not a valid ``data_config`` ("" when it is)."""
    if value is None:
        return ""
    if not isinstance(value, Mapping) or any(k not in value for k in DATA_CONFIG_KEYS):
        return (
            f"has data_config={value!r}; set it to None or a dict with "
            f'"mean" and "std" per input channel ({DOC}).'
        )
    return ""


def _hint_text(hint: Any) -> str:
    if get_origin(hint) is Literal:
        return " | ".join(f'"{v}"' for v in get_args(hint))
    return hint.__name__ if isinstance(hint, type) else str(hint)


def _method_signature(name: str, function: Callable[..., Any]) -> str:
    """``name(arg: type, ...) -> type`` as written (annotations are strings here)."""
    sig = inspect.signature(function)
    args = [
        f"{p.name}: {p.annotation}" if p.annotation is not p.empty else p.name
        for p in list(sig.parameters.values())[1:]  # not self
    ]
    ret = "" if sig.return_annotation is sig.empty else f" -> {sig.return_annotation}"
    return f"{name}({', '.join(args)}){ret}"


def _forward_text(contract: type) -> str:
    forward = next(m for m in _all_members(contract) if m.name == "forward")
    return forward.signature


def _type_name(obj: object) -> str:
    kind = obj if isinstance(obj, type) or inspect.isfunction(obj) else type(obj)
    return f"{getattr(kind, '__module__', '?')}:{getattr(kind, '__qualname__', '?')}"


_CONTRACTS = (Encoder, Loss, LogitLoss, EmbeddingLoss, Head)
