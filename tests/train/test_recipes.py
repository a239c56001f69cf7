"""Named recipes: each is a valid, trainable configuration; the CLI applies and records them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._cli import run_main
from toolkit.errors import ToolkitError
from toolkit.registry import encoders, heads, losses
from toolkit.train import TrainConfig, apply_overrides
from toolkit.train.config import validate
from toolkit.train.recipes import RECIPES, get_recipe


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_is_a_valid_config(name: str) -> None:
    recipe = get_recipe(name)
    base = TrainConfig(encoder=recipe.encoder, loss=recipe.loss, head=recipe.head)
    cfg = apply_overrides(base, recipe.overrides())
    validate(cfg)
    # The plugins accept the recipe's parameters.
    enc = encoders.create(cfg.encoder, in_channels=3, image_size=32, **cfg.encoder_params)
    loss = losses.create(cfg.loss, num_classes=10, **cfg.loss_params)
    heads.create(cfg.head, in_features=enc.out_dim, num_classes=10, **cfg.head_params)
    assert loss is not None and recipe.summary


def test_unknown_recipe_names_the_known_ones() -> None:
    with pytest.raises(ToolkitError, match="fastnet-finetune") as err:
        get_recipe("fastnet-fintune")
    assert "did you mean 'fastnet-finetune'" in str(err.value)


def test_swapped_plugin_drops_its_recipe_parameters() -> None:
    recipe = get_recipe("fastnet-finetune")
    assert "loss.label_smoothing" in recipe.overrides()
    assert "loss.label_smoothing" in recipe.overrides(loss="softmax-ce")  # the same plugin
    swapped = recipe.overrides(loss="bce")
    assert "loss.label_smoothing" not in swapped
    assert swapped["optimizer"] == recipe.settings["optimizer"]  # training settings stay


def test_swapped_encoder_drops_the_settings_measured_for_it(
    capsys: pytest.CaptureFixture[str], digits_dir: Path, runs_dir: Path
) -> None:
    recipe = get_recipe("fastnet-finetune")
    assert recipe.settings["progressive_resize"] > 0
    assert recipe.overrides(encoder="fastnet")["progressive_resize"] > 0  # the same encoder
    for swapped in (recipe.overrides(encoder="convnet4"), recipe.overrides(encoder="timm:vit")):
        assert "progressive_resize" not in swapped and "encoder.width" not in swapped
        assert swapped["crop_pad"] == recipe.settings["crop_pad"]  # the rest stays
    assert "progressive_resize" in recipe.overrides(loss="bce")  # only the encoder's swap
    # A fixed-size encoder under the recipe trains without it; the user's own setting stays
    # (preflight refuses it where the encoder cannot take the batches: test_resizing.py).
    args = ["train", str(digits_dir), "--recipe", "fastnet-finetune", "--encoder", "pixels"]
    code, out, err = run_main(capsys, *args, "--set", "epochs=1", "--json", "-q")
    assert code == 0, err
    run = json.loads((Path(json.loads(out)["path"]) / "run.json").read_text())
    assert run["config"]["progressive_resize"] == 0 and run["config"]["crop_pad"] == 4
    code, out, err = run_main(
        capsys, *args, "--set", "epochs=1", "--set", "progressive_resize=0.5", "--json", "-q"
    )
    assert code == 0, err
    run = json.loads((Path(json.loads(out)["path"]) / "run.json").read_text())
    assert run["config"]["progressive_resize"] == 0.5


def test_cli_recipe_applies_settings_and_user_overrides_win(
    capsys: pytest.CaptureFixture[str], digits_dir: Path, runs_dir: Path
) -> None:
    code, out, err = run_main(
        capsys,
        "train",
        str(digits_dir),
        "--recipe",
        "fastnet-finetune",
        "--set",
        "epochs=1",
        "--set",
        "lr=0.05",
        "--set",
        "encoder.width=0.25",
        "--json",
        "-q",
    )
    assert code == 0, err
    run = json.loads((Path(json.loads(out)["path"]) / "run.json").read_text())
    cfg = run["config"]
    assert run["recipe"] == "fastnet-finetune"
    assert cfg["optimizer"] == "sgd" and cfg["flip"] is True and cfg["tta"] is True
    assert cfg["loss_params"]["label_smoothing"] == 0.2
    assert cfg["lr"] == 0.05 and cfg["encoder_params"]["width"] == 0.25


def test_cli_unknown_recipe_is_one_line(
    capsys: pytest.CaptureFixture[str], digits_dir: Path, runs_dir: Path
) -> None:
    code, _, err = run_main(capsys, "train", str(digits_dir), "--recipe", "nope")
    assert code == 2
    assert err.strip().count("\n") == 0 and "unknown recipe 'nope'" in err
    assert not runs_dir.exists()
