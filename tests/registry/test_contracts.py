"""Plugin contracts: ``create`` checks every built plugin once and names what is missing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from toolkit.errors import ToolkitError
from toolkit.registry import (
    KINDS,
    EmbeddingLoss,
    Encoder,
    Head,
    LogitLoss,
    Loss,
    Registry,
    data_config,
    encoders,
    heads,
    losses,
    preferred_image_size,
    weight_source_params,
)
from toolkit.registry.contracts import members

MakeDist = Callable[..., Any]  # the fake_dist fixture (tests/conftest.py)
CONTEXT = {
    "encoder": {"in_channels": 3, "image_size": 8},
    "loss": {"num_classes": 2},
    "head": {"in_features": 4, "num_classes": 2},
}


# Fakes that meet each contract (plain callables: a contract asks for no torch type).
class GoodEncoder:
    out_dim = 4

    def __init__(self, in_channels: int, image_size: int) -> None:
        pass

    def __call__(self, x: Any) -> Any:
        return x


class GoodLogitLoss:
    target = "logits"

    def __init__(self, num_classes: int) -> None:
        pass

    def __call__(self, outputs: Any, labels: Any) -> Any:
        return outputs

    def logits_dim(self, num_classes: int) -> int:
        return num_classes

    def probabilities(self, logits: Any) -> Any:
        return logits


class GoodEmbeddingLoss:
    target = "embeddings"
    balanced_batches = True

    def __init__(self, num_classes: int) -> None:
        pass

    def __call__(self, outputs: Any, labels: Any) -> Any:
        return outputs


class GoodHead:
    trains_encoder = False

    def __init__(self, in_features: int, num_classes: int) -> None:
        pass

    def __call__(self, features: Any) -> Any:
        return features


GOOD = {"encoder": GoodEncoder, "loss": GoodLogitLoss, "head": GoodHead}


def without(base: type, member: str) -> type:
    """A subclass of ``base`` whose instances have no ``member``."""

    def hide(self: object, name: str) -> Any:
        if name == member:
            raise AttributeError(name)
        return object.__getattribute__(self, name)

    return type(f"No_{member}", (base,), {"__getattribute__": hide})


def with_value(base: type, member: str, value: Any) -> type:
    """A subclass of ``base`` with ``member`` set to ``value``."""
    return type(f"Bad_{member}", (base,), {member: value})


def build(kind: str, factory: Any, name: str = "tst-plugin") -> Any:
    registry = KINDS[kind]
    registry.register(name, factory)
    return registry.create(name, **CONTEXT[kind])


# -- the registries are typed by their contracts ------------------------------------------------


def test_each_registry_checks_its_contract() -> None:
    assert (encoders.contract, losses.contract, heads.contract) == (Encoder, Loss, Head)
    for kind, good in [*GOOD.items(), ("loss", GoodEmbeddingLoss)]:
        assert isinstance(build(kind, good, name=f"tst-{good.__name__}"), good)


def test_the_contracts_declare_these_members() -> None:
    names = {c.__name__: [m.name for m in members(c)] for c in (Encoder, Loss, Head)}
    assert names == {
        "Encoder": ["out_dim", "forward"],
        "Loss": ["target", "forward"],
        "Head": ["trains_encoder", "forward"],
    }
    assert [m.name for m in members(LogitLoss)] == ["logits_dim", "probabilities"]
    assert [m.name for m in members(EmbeddingLoss)] == ["balanced_batches"]


def test_a_registry_without_contract_builds_anything() -> None:
    widgets: Registry[Any] = Registry("widget", "toolkit.test-widgets", context=("size",))
    widgets.register("plain", lambda size: {"size": size})
    assert widgets.create("plain", size=3) == {"size": 3}


def test_create_checks_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.registry import _registry

    calls: list[str] = []
    monkeypatch.setattr(_registry, "check_contract", lambda *a, **kw: calls.append(kw["name"]))
    build("head", GoodHead)
    assert calls == ["tst-plugin"]


# -- missing members -----------------------------------------------------------------------------

MISSING = [
    ("encoder", GoodEncoder, "out_dim", "attribute", "set out_dim to a positive int"),
    ("loss", GoodLogitLoss, "target", "attribute", 'set target = "logits" or "embeddings"'),
    ("loss", GoodLogitLoss, "logits_dim", "method", "define logits_dim(num_classes: int) -> int"),
    ("loss", GoodLogitLoss, "probabilities", "method", "define probabilities(logits: Tensor)"),
    ("loss", GoodEmbeddingLoss, "balanced_batches", "attribute", "= True or False"),
    ("head", GoodHead, "trains_encoder", "attribute", "set trains_encoder = True or False"),
]


@pytest.mark.parametrize(
    ("kind", "good", "member", "what", "fix"), MISSING, ids=[m[2] for m in MISSING]
)
def test_a_missing_member_is_named(
    kind: str, good: type, member: str, what: str, fix: str
) -> None:
    factory = without(good, member)
    with pytest.raises(ToolkitError) as err:
        build(kind, factory)
    message = str(err.value)
    where = f"{kind} 'tst-plugin' ({__name__}:No_{member})"
    assert message.startswith(f"{where} breaks the {kind} contract: it has no {what} `{member}`")
    assert fix in message and message.endswith("(docs/PLUGINS.md).")
    assert "\n" not in message


def test_the_message_says_what_to_set() -> None:
    class MyLoss:
        def __init__(self, num_classes: int) -> None:
            pass

        def __call__(self, outputs: Any, labels: Any) -> Any:
            return outputs

    with pytest.raises(ToolkitError) as err:
        build("loss", MyLoss, name="myloss")
    target = f"{__name__}:test_the_message_says_what_to_set.<locals>.MyLoss"
    assert str(err.value) == (
        f"loss 'myloss' ({target}) breaks the loss contract: it has no attribute `target`; "
        'set target = "logits" or "embeddings" (docs/PLUGINS.md).'
    )


def test_a_logits_loss_is_told_why_it_needs_logits_dim() -> None:
    with pytest.raises(ToolkitError, match='a loss with target "logits" needs it'):
        build("loss", without(GoodLogitLoss, "logits_dim"))


# -- badly typed members --------------------------------------------------------------------------

BAD_VALUES = [
    ("loss", GoodLogitLoss, "target", "logit"),
    ("loss", GoodLogitLoss, "target", None),
    ("loss", GoodLogitLoss, "target", "Logits"),
    ("head", GoodHead, "trains_encoder", "yes"),
    ("head", GoodHead, "trains_encoder", 1),
    ("head", GoodHead, "trains_encoder", None),
    ("loss", GoodEmbeddingLoss, "balanced_batches", "True"),
    ("encoder", GoodEncoder, "out_dim", 0),
    ("encoder", GoodEncoder, "out_dim", -3),
    ("encoder", GoodEncoder, "out_dim", 4.0),
    ("encoder", GoodEncoder, "out_dim", True),
    ("encoder", GoodEncoder, "out_dim", "128"),
    ("loss", GoodLogitLoss, "logits_dim", 3),
    ("loss", GoodLogitLoss, "probabilities", "softmax"),
]


@pytest.mark.parametrize(
    ("kind", "good", "member", "value"), BAD_VALUES, ids=[f"{m[2]}={m[3]!r}" for m in BAD_VALUES]
)
def test_a_badly_typed_member_is_named(kind: str, good: type, member: str, value: Any) -> None:
    with pytest.raises(ToolkitError) as err:
        build(kind, with_value(good, member, value))
    message = str(err.value)
    assert f"breaks the {kind} contract: `{member}` is {value!r}" in message
    assert message.endswith("(docs/PLUGINS.md).")


@pytest.mark.parametrize("value", ["imagenet", {"mean": (0.5,)}, ["mean", "std"]])
def test_a_bad_data_config_fails_at_create(value: Any) -> None:
    with pytest.raises(ToolkitError, match=r"breaks the encoder contract: it has data_config="):
        build("encoder", with_value(GoodEncoder, "data_config", value))


@pytest.mark.parametrize("built", [None, {"out_dim": 4}, 3])
def test_a_plugin_that_is_not_callable_fails(built: Any) -> None:
    def factory(in_features: int, num_classes: int) -> Any:
        return built

    with pytest.raises(ToolkitError) as err:
        build("head", factory)
    message = str(err.value)
    assert f"it built a {type(built).__name__}, which is not callable" in message
    assert "nn.Module whose forward is forward(features: Tensor) -> Tensor" in message


def test_an_entry_point_plugin_is_named_by_its_target(fake_dist: MakeDist) -> None:
    fake_dist(
        "tst-contract-dist",
        {"toolkit.heads": {"tst-forgetful": "tst_forgetful:Forgetful"}},
        {
            "tst_forgetful": """
            class Forgetful:
                def __init__(self, in_features: int, num_classes: int):
                    pass

                def __call__(self, features):
                    return features
            """
        },
    )
    with pytest.raises(
        ToolkitError,
        match=r"head 'tst-forgetful' \(tst_forgetful:Forgetful\) breaks the head contract: "
        r"it has no attribute `trains_encoder`",
    ):
        heads.create("tst-forgetful", in_features=2, num_classes=2)


# -- every bundled plugin meets its contract ----------------------------------------------------

BUILD_AS = {"timm": "timm:test_resnet", "convnet4": "convnet4"}  # a tiny timm model
PARAMS = {"convnet4": {"hidden": 16}}


@pytest.mark.parametrize(
    ("kind", "name"),
    [(kind, name) for kind, reg in KINDS.items() for name in reg.names()],
)
def test_bundled_plugins_meet_their_contract(kind: str, name: str) -> None:
    registry = KINDS[kind]
    context = dict(CONTEXT[kind], **({"image_size": 16} if kind == "encoder" else {}))
    built = registry.create(BUILD_AS.get(name, name), **context, **PARAMS.get(name, {}))
    assert callable(built)
    if kind == "encoder":
        assert data_config(built) is None  # random weights: the core fits its own statistics


# -- optional traits, read through their accessors ----------------------------------------------


def test_data_config_accessor() -> None:
    encoder = GoodEncoder(3, 8)
    assert data_config(encoder) is None
    encoder.data_config = {"mean": (0.5,), "std": (0.25,), "input_size": 224}  # type: ignore[attr-defined]
    assert data_config(encoder) == {"mean": (0.5,), "std": (0.25,), "input_size": 224}
    encoder.data_config = "imagenet"  # type: ignore[attr-defined]
    with pytest.raises(ToolkitError, match=r"has data_config='imagenet'; set it to None or a"):
        data_config(encoder)


def test_factory_trait_accessors() -> None:
    def plain(in_channels: int, image_size: int) -> GoodEncoder:
        return GoodEncoder(in_channels, image_size)

    assert preferred_image_size(plain) is None and weight_source_params(plain) == ()

    def sized(variant: str = "a") -> int:
        return 224

    plain.preferred_image_size = sized  # type: ignore[attr-defined]
    plain.weight_source_params = ["checkpoint"]  # type: ignore[attr-defined]
    assert preferred_image_size(plain) is sized
    assert weight_source_params(plain) == ("checkpoint",)

    plain.preferred_image_size = 224  # type: ignore[attr-defined]
    with pytest.raises(ToolkitError, match="preferred_image_size=224; make it a function"):
        preferred_image_size(plain)
    plain.weight_source_params = "checkpoint"  # type: ignore[attr-defined]
    with pytest.raises(ToolkitError, match="weight_source_params='checkpoint'; make it a tuple"):
        weight_source_params(plain)


def test_the_timm_encoder_declares_its_weight_sources() -> None:
    factory = encoders.get("timm")
    assert weight_source_params(factory) == ("checkpoint", "pretrained")
    helper = preferred_image_size(factory)
    assert helper is not None and helper(variant="test_resnet") is None  # no weights: none


def test_contracts_import_without_torch() -> None:
    code = (
        "import sys, toolkit.registry, toolkit.registry.contracts, toolkit.registry._contracts_doc"
        "; print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"
