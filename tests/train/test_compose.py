"""Composing a config from a recipe, plugins and settings: who wins, and one duration parser."""

from __future__ import annotations

import pytest

from toolkit.errors import ToolkitError
from toolkit.train.compose import command_line_settings, compose_config
from toolkit.train.config import TrainConfig
from toolkit.train.recipes import get_recipe


def test_defaults_without_anything() -> None:
    assert compose_config() == TrainConfig()


def test_a_recipe_then_plugins_then_settings() -> None:
    recipe = get_recipe("fastnet-finetune")
    config = compose_config(recipe="fastnet-finetune", settings={"lr": "0.05"})
    assert (config.encoder, config.loss, config.head) == (recipe.encoder, recipe.loss, "finetune")
    assert config.lr == 0.05  # a setting beats the recipe's
    assert config.optimizer == recipe.settings["optimizer"]
    assert config.loss_params == {"label_smoothing": 0.2}
    swapped = compose_config(recipe="fastnet-finetune", loss="bce")
    assert swapped.loss == "bce" and swapped.loss_params == {}  # not the recipe's loss params
    assert swapped.optimizer == recipe.settings["optimizer"]


def test_a_base_config_keeps_what_settings_do_not_change() -> None:
    base = TrainConfig(encoder="pixels", head="linear-probe", epochs=3)
    config = compose_config(base=base, settings=command_line_settings(metric="log_loss"))
    assert config == TrainConfig(
        encoder="pixels", head="linear-probe", epochs=3, metric="log_loss"
    )


def test_budget_and_metric_flags_beat_a_set_of_the_same_key() -> None:
    settings = command_line_settings(
        ["budget=1m", "metric=accuracy", "lr=0.1"], budget="90s", metric="log_loss"
    )
    assert settings == {"budget": 90.0, "metric": "log_loss", "lr": "0.1"}
    config = compose_config(settings=settings)
    assert (config.budget, config.metric, config.lr) == (90.0, "log_loss", 0.1)
    assert compose_config(settings=command_line_settings(["budget=10m"])).budget == 600.0


@pytest.mark.parametrize(
    ("pairs", "budget", "needle"),
    [
        (["lr"], None, "--set expects key=value"),
        ([], "soon", "cannot read duration 'soon'"),
        ([], "-5", "duration must be positive"),
    ],
)
def test_bad_flags_are_user_errors(pairs: list[str], budget: str | None, needle: str) -> None:
    with pytest.raises(ToolkitError, match=needle):
        command_line_settings(pairs, budget=budget)
