"""The generic Registry: registration, lookup, info, parameter checks, variants."""

from __future__ import annotations

import json
from typing import Any

import pytest

from toolkit.errors import ToolkitError
from toolkit.registry import (
    KINDS,
    Choice,
    Float,
    Int,
    Registry,
    all_infos,
    encoders,
    find_info,
    heads,
    losses,
    registry_for,
)

pytestmark = pytest.mark.usefixtures("without_contracts")  # fakes return their arguments


def make_encoder(in_channels: int, image_size: int, width: int = 8, depth: int = 2) -> dict:
    """A fake encoder: returns its arguments.

    Only the first docstring line is the summary.
    """
    return {"in_channels": in_channels, "image_size": image_size, "width": width, "depth": depth}


def make_loss(num_classes: int, margin: float, scale: float = 30.0) -> dict:
    """A fake loss with a required parameter."""
    return {"num_classes": num_classes, "margin": margin, "scale": scale}


def make_variant(in_channels: int, image_size: int, variant: str = "small", depth: int = 1):
    """A fake encoder family named base:variant."""
    return {"variant": variant, "depth": depth}


def widget_registry() -> Registry:
    """A registry not known to discovery: pure generic behaviour, nothing else in it."""
    return Registry("widget", "toolkit.test-widgets", context=("size",))


# -- the three instances ---------------------------------------------------------------------


def test_three_instances_of_one_generic_type() -> None:
    assert {k: type(r) for k, r in KINDS.items()} == {
        "encoder": Registry,
        "loss": Registry,
        "head": Registry,
    }
    assert (encoders.kind, encoders.group) == ("encoder", "toolkit.encoders")
    assert (losses.kind, losses.group) == ("loss", "toolkit.losses")
    assert (heads.kind, heads.group) == ("head", "toolkit.heads")
    assert encoders.context == ("in_channels", "image_size")
    assert losses.context == ("num_classes",)
    assert heads.context == ("in_features", "num_classes")


@pytest.mark.parametrize(
    ("kind", "registry"),
    [("encoder", encoders), ("encoders", encoders), ("loss", losses), ("heads", heads)],
)
def test_registry_for_accepts_singular_and_plural(kind: str, registry: Registry) -> None:
    assert registry_for(kind) is registry


def test_registry_for_unknown_kind() -> None:
    with pytest.raises(
        ToolkitError, match=r"unknown plugin kind 'optimizer'.*encoder, loss, head"
    ):
        registry_for("optimizer")


# -- registration ----------------------------------------------------------------------------


def test_register_as_decorator_and_plain_call_share_one_code_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, Any]] = []
    original = Registry._add

    def spy(self: Registry, name: str, obj: Any, space: dict) -> None:
        calls.append((name, obj))
        original(self, name, obj, space)

    monkeypatch.setattr(Registry, "_add", spy)
    reg = widget_registry()

    @reg.register("by-decorator")
    def a(size: int, x: int = 1) -> int:
        return x

    def b(size: int, x: int = 1) -> int:
        return x

    assert reg.register("by-call", b) is b  # plain call returns the object unchanged
    assert a.__name__ == "a"  # the decorator returns the object unchanged
    assert calls == [("by-decorator", a), ("by-call", b)]
    assert reg.create("by-decorator", size=1, x=3) == 3
    assert reg.create("by-call", size=1, x=4) == 4


def test_create_builds_with_params_and_context() -> None:
    encoders.register("tst-enc", make_encoder)
    built = encoders.create("tst-enc", in_channels=3, image_size=32, width=16)
    assert built == {"in_channels": 3, "image_size": 32, "width": 16, "depth": 2}
    assert encoders.get("tst-enc") is make_encoder


def test_class_factories_are_read_from_init() -> None:
    @heads.register("tst-head", space={"dropout": Float(0.0, 0.5)})
    class Head:
        """A class plugin."""

        def __init__(self, in_features: int, num_classes: int, dropout: float = 0.1) -> None:
            self.dropout = dropout

    assert heads.create("tst-head", in_features=4, num_classes=2, dropout=0.3).dropout == 0.3
    info = heads.info("tst-head")
    assert [p.name for p in info.params] == ["dropout"]
    assert info.summary == "A class plugin."


@pytest.mark.parametrize("name", ["", "-lead", ".lead", "a b", "a:b", "a/b", "x!"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(ToolkitError, match="invalid encoder name"):
        encoders.register(name, make_encoder)


@pytest.mark.parametrize("name", ["resnet18", "my-encoder", "my_encoder", "v1.2", "9lives"])
def test_valid_names(name: str) -> None:
    encoders.register(name, make_encoder)
    assert name in encoders.names()


def test_kwargs_factory_is_refused_at_registration() -> None:
    def loose(in_channels: int, image_size: int, **kwargs: Any) -> None:
        return None

    with pytest.raises(ToolkitError, match=r"\*args/\*\*kwargs; declare every parameter"):
        encoders.register("tst-loose", loose)
    with pytest.raises(ToolkitError, match="kwargs"):
        encoders.register("tst-loose")(loose)  # the decorator form refuses it the same way
    assert "tst-loose" not in encoders.names()


def test_varargs_factory_is_refused_at_registration() -> None:
    def loose(*args: int) -> None:
        return None

    with pytest.raises(ToolkitError, match=r"\*args"):
        losses.register("tst-varargs", loose)


def test_unreadable_signature_is_refused() -> None:
    with pytest.raises(ToolkitError, match="no readable signature"):
        losses.register("tst-builtin", min)  # some builtins have no signature


def test_duplicate_name_names_both_sources() -> None:
    encoders.register("tst-dup", make_encoder)

    def other(in_channels: int, image_size: int) -> None:
        return None

    with pytest.raises(ToolkitError) as err:
        encoders.register("tst-dup", other)
    message = str(err.value)
    assert "duplicate encoder name 'tst-dup'" in message
    assert f"{__name__}:make_encoder" in message
    assert "other" in message
    assert message.count(__file__) == 2  # both sources are this file
    assert encoders.get("tst-dup") is make_encoder  # the first one stays


def test_reregistering_the_same_object_is_idempotent() -> None:
    encoders.register("tst-same", make_encoder)
    encoders.register("tst-same", make_encoder, space={"width": Int(4, 64)})
    assert encoders.info("tst-same").space == {"width": Int(4, 64)}


def test_same_name_in_two_kinds_is_allowed() -> None:
    encoders.register("tst-shared", make_encoder)
    losses.register("tst-shared", make_loss)
    assert encoders.info("tst-shared").kind == "encoder"
    assert losses.info("tst-shared").kind == "loss"


def test_unregister() -> None:
    encoders.register("tst-gone", make_encoder)
    encoders.unregister("tst-gone")
    encoders.unregister("tst-never-there")  # forgetting an unknown name is not an error
    assert "tst-gone" not in encoders.names()


# -- lookup ----------------------------------------------------------------------------------


def test_names_filters_with_fnmatch_and_sorts() -> None:
    reg = widget_registry()
    for name in ["beta-2", "alpha-1", "alpha-10", "gamma", "Alpha-3"]:
        reg.register(name, lambda size: size)
    assert reg.names() == ["Alpha-3", "alpha-1", "alpha-10", "beta-2", "gamma"]
    assert reg.names("alpha-*") == ["alpha-1", "alpha-10"]  # case-sensitive
    assert reg.names("*-?") == ["Alpha-3", "alpha-1", "beta-2"]
    assert reg.names("[ab]*") == ["alpha-1", "alpha-10", "beta-2"]
    assert reg.names("nothing*") == []


def test_contains_handles_variants() -> None:
    encoders.register("tst-fam", make_variant)
    assert "tst-fam" in encoders
    assert "tst-fam:large" in encoders
    assert "tst-other" not in encoders


def test_unknown_name_lists_closest_names() -> None:
    for name in ["tst-resnet18", "tst-resnet50", "tst-vit"]:
        encoders.register(name, make_encoder)
    with pytest.raises(ToolkitError) as err:
        encoders.create("tst-resnet19", in_channels=3, image_size=8)
    message = str(err.value)
    assert message.startswith("unknown encoder 'tst-resnet19'; did you mean: ")
    assert "tst-resnet18" in message and "tst-resnet50" in message
    assert "tk plugins list --kind encoder" in message
    for call in (encoders.get, encoders.info):
        with pytest.raises(ToolkitError, match="did you mean: tst-resnet"):
            call("tst-resnet")


def test_unknown_name_without_close_matches_has_no_hint() -> None:
    with pytest.raises(ToolkitError) as err:
        losses.info("zzzzzzzzzz-nothing-like-it")
    assert "did you mean" not in str(err.value)


# -- info ------------------------------------------------------------------------------------


def test_info_reports_kind_source_summary_params_and_space() -> None:
    space = {"width": Int(4, 64, log=True), "train.lr": Float(1e-4, 1e-1, log=True)}
    encoders.register("tst-info", make_encoder, space=space)
    info = encoders.info("tst-info")
    assert info.name == "tst-info"
    assert info.kind == "encoder"
    assert info.source == __file__  # a plugin defined in a file: the file's path
    assert info.target == f"{__name__}:make_encoder"
    assert info.summary == "A fake encoder: returns its arguments."
    assert info.status == "ok" and info.error is None
    # context arguments (in_channels, image_size) are supplied by the core: not parameters
    assert [(p.name, p.default, p.annotation, p.required) for p in info.params] == [
        ("width", 8, "int", False),
        ("depth", 2, "int", False),
    ]
    assert info.space == space


def test_info_marks_required_parameters() -> None:
    losses.register("tst-req", make_loss)
    params = {p.name: p for p in losses.info("tst-req").params}
    assert params["margin"].required
    assert params["margin"].to_dict() == {
        "name": "margin",
        "default": None,
        "required": True,
        "type": "float",
    }
    assert not params["scale"].required


def test_info_shows_generic_annotations_in_full() -> None:
    def factory(num_classes: int, weights: list[float] | None = None) -> None:
        return None

    losses.register("tst-generic", factory)
    assert [p.annotation for p in losses.info("tst-generic").params] == ["list[float] | None"]


def test_info_shows_evaluated_generic_annotations_in_full() -> None:
    # This module's annotations are strings (PEP 563); a plugin without that import has real
    # objects. Regression: list[int].__name__ is "list", so "list[int]" was shown as "list".
    def factory(num_classes: int, sizes: Any = (1,), table: Any = None, rate: Any = 0.1) -> None:
        return None

    factory.__annotations__ = {"sizes": list[int], "table": dict[str, float] | None, "rate": float}
    losses.register("tst-evaluated", factory)
    assert [p.annotation for p in losses.info("tst-evaluated").params] == [
        "list[int]",
        "dict[str, float] | None",
        "float",
    ]


def test_info_without_docstring_has_empty_summary() -> None:
    losses.register("tst-nodoc", lambda num_classes, w=1.0: None)
    assert losses.info("tst-nodoc").summary == ""


def test_info_to_dict_is_json_serializable() -> None:
    encoders.register(
        "tst-json", make_encoder, space={"width": Int(4, 64), "depth": Choice((1, 2, 3))}
    )
    data = json.loads(json.dumps(encoders.info("tst-json").to_dict()))
    assert data["name"] == "tst-json" and data["kind"] == "encoder"
    assert data["status"] == "ok" and data["error"] is None
    assert data["space"] == {
        "width": {"type": "int", "low": 4, "high": 64, "log": False},
        "depth": {"type": "choice", "choices": [1, 2, 3]},
    }
    assert [p["name"] for p in data["params"]] == ["width", "depth"]


def test_infos_and_all_infos_filter_by_kind_and_pattern() -> None:
    encoders.register("tst-a", make_encoder)
    encoders.register("tst-b", make_encoder)
    losses.register("tst-a", make_loss)
    assert [i.name for i in encoders.infos("tst-*")] == ["tst-a", "tst-b"]
    assert [(i.kind, i.name) for i in all_infos(pattern="tst-a")] == [
        ("encoder", "tst-a"),
        ("loss", "tst-a"),
    ]
    assert [i.name for i in all_infos("losses", "tst-*")] == ["tst-a"]


def test_listing_everything_never_raises() -> None:
    # Whatever plugins are installed, a listing reports broken ones instead of raising.
    for info in all_infos():
        assert info.status in {"ok", "broken"}
        assert info.status == "ok" or info.error


def test_find_info_across_kinds() -> None:
    encoders.register("tst-only-enc", make_encoder)
    encoders.register("tst-both", make_encoder)
    losses.register("tst-both", make_loss)
    assert find_info("tst-only-enc").kind == "encoder"
    assert find_info("tst-both", "loss").kind == "loss"
    with pytest.raises(ToolkitError, match=r"several kinds .*encoder, loss.*add --kind"):
        find_info("tst-both")
    with pytest.raises(ToolkitError, match="unknown plugin 'tst-only-enk'; did you mean: "):
        find_info("tst-only-enk")
    with pytest.raises(ToolkitError, match="unknown head 'tst-only-enc'"):
        find_info("tst-only-enc", "head")


# -- parameters ------------------------------------------------------------------------------


def test_unknown_parameter_names_the_accepted_ones() -> None:
    encoders.register("tst-params", make_encoder)
    with pytest.raises(ToolkitError) as err:
        encoders.create("tst-params", in_channels=3, image_size=8, widht=4)
    message = str(err.value)
    assert "encoder 'tst-params' has no parameter 'widht' (did you mean 'width'?)" in message
    assert message.endswith("it accepts: depth, width.")


def test_several_unknown_parameters_are_all_named() -> None:
    encoders.register("tst-params", make_encoder)
    with pytest.raises(ToolkitError, match="'foo', 'bar'; it accepts: depth, width"):
        encoders.check_params("tst-params", {"foo": 1, "bar": 2, "width": 3})


def test_context_arguments_are_not_user_parameters() -> None:
    encoders.register("tst-params", make_encoder)
    encoders.check_params("tst-params", {"width": 4})
    with pytest.raises(ToolkitError, match="no parameter 'in_channels'"):
        encoders.check_params("tst-params", {"in_channels": 3})
    encoders.check_params("tst-params", {"in_channels": 3, "image_size": 8}, allow_context=True)


def test_missing_required_parameter() -> None:
    losses.register("tst-req", make_loss)
    with pytest.raises(ToolkitError, match="needs parameter\\(s\\) margin"):
        losses.create("tst-req", num_classes=3)
    assert losses.create("tst-req", num_classes=3, margin=0.5)["margin"] == 0.5


def test_plugin_without_parameters_says_so() -> None:
    heads.register("tst-bare", lambda in_features, num_classes: None)
    with pytest.raises(ToolkitError, match="it accepts: no parameters"):
        heads.create("tst-bare", in_features=2, num_classes=2, dropout=0.1)


# -- search spaces at registration -----------------------------------------------------------


@pytest.mark.parametrize(
    ("space", "match"),
    [
        ({"widht": Int(4, 64)}, "unknown parameter 'widht'; its parameters are: depth, width"),
        ({"in_channels": Int(1, 3)}, "unknown parameter 'in_channels'"),  # context: not tunable
        ({"width": Int(64, 4)}, "empty or inverted"),
        ({"width": Int(4, 4)}, "empty or inverted"),
        ({"width": Float(0.5, 0.1)}, "empty or inverted"),
        ({"width": Float(0.0, 1.0, log=True)}, "log-scale range for 'width' needs low > 0"),
        ({"width": Int(0, 8, log=True)}, "needs low > 0"),
        ({"width": Float(0.0, float("inf"))}, "must be finite"),
        ({"width": Choice(())}, "choices for 'width' are empty"),
        ({"width": (4, 64)}, r"declares \(4, 64\) as the search space of 'width'"),
        ({"width": {"type": "int", "low": 4, "high": 64}}, "use Float\\(low, high\\)"),
    ],
)
def test_invalid_spaces_are_refused_at_registration(space: dict, match: str) -> None:
    with pytest.raises(ToolkitError, match=match):
        encoders.register("tst-space", make_encoder, space=space)
    assert "tst-space" not in encoders.names()


def test_train_keys_may_tune_the_training_config() -> None:
    space = {"train.lr": Float(1e-5, 1e-2, log=True), "train.batch_size": Int(16, 128)}
    encoders.register("tst-train", make_encoder, space=space)
    assert encoders.info("tst-train").space == space


def test_invalid_train_space_is_still_validated() -> None:
    with pytest.raises(ToolkitError, match=r"'train\.lr' needs low > 0"):
        encoders.register("tst-train", make_encoder, space={"train.lr": Float(0, 1, log=True)})


# -- variants --------------------------------------------------------------------------------


def test_name_variant_passes_the_variant() -> None:
    encoders.register("tst-fam", make_variant)
    kw = {"in_channels": 3, "image_size": 8}
    assert encoders.create("tst-fam:resnet18", **kw) == {"variant": "resnet18", "depth": 1}
    assert encoders.create("tst-fam", **kw) == {"variant": "small", "depth": 1}
    assert encoders.create("tst-fam:b0", **kw, depth=3) == {"variant": "b0", "depth": 3}
    info = encoders.info("tst-fam:resnet18")
    assert info.name == "tst-fam"
    assert [p.name for p in info.params] == ["depth"]  # the variant is in the name, not a param
    assert encoders.get("tst-fam:x") is make_variant
    assert find_info("tst-fam:resnet18").name == "tst-fam"  # what `tk plugins show` uses


def test_variant_on_a_plugin_without_variant_param() -> None:
    encoders.register("tst-plain", make_encoder)
    with pytest.raises(ToolkitError, match=r"'tst-plain' takes no variant.*use 'tst-plain'"):
        encoders.create("tst-plain:big", in_channels=3, image_size=8)


def test_unknown_variant_base_is_an_unknown_name() -> None:
    with pytest.raises(ToolkitError, match="unknown encoder 'tst-nothing'"):
        encoders.create("tst-nothing:big", in_channels=3, image_size=8)
