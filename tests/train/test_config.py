"""--set overrides and config validation."""

from __future__ import annotations

import pytest

from toolkit.errors import ToolkitError
from toolkit.train.config import (
    SettingKey,
    TrainConfig,
    apply_overrides,
    parse_overrides,
    setting_key,
    validate,
)


def test_overrides_parse_by_field_type_and_plugin_sections() -> None:
    cfg = apply_overrides(
        TrainConfig(),
        parse_overrides(
            [
                "lr=0.01",
                "train.batch_size=64",
                "flip=true",
                "data.classes=cat,dog",
                "loss.margin=0.5",
                "encoder.width=1.0",
            ]
        ),
    )
    assert cfg.lr == 0.01 and cfg.batch_size == 64 and cfg.flip is True
    assert cfg.classes == ("cat", "dog")
    assert cfg.loss_params == {"margin": 0.5} and cfg.encoder_params == {"width": 1.0}
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("pairs", "needle"),
    [
        (["lrr=0.1"], "did you mean 'lr'"),
        (["batch_size=abc"], "batch_size"),
        (["epochs"], "key=value"),
        (["flip=maybe"], "flip"),
    ],
)
def test_bad_overrides_are_user_errors(pairs: list[str], needle: str) -> None:
    with pytest.raises(ToolkitError, match=needle):
        apply_overrides(TrainConfig(), parse_overrides(pairs))


@pytest.mark.parametrize(
    "changes",
    [{"lr": -1.0}, {"optimizer": "lion"}, {"val_fraction": 1.0}, {"early_stopping": "x"}],
)
def test_validate_rejects_out_of_range(changes: dict[str, object]) -> None:
    import dataclasses

    with pytest.raises(ToolkitError, match="invalid training setting"):
        validate(dataclasses.replace(TrainConfig(), **changes))


def test_data_and_submission_sections_and_durations() -> None:
    cfg = apply_overrides(
        TrainConfig(),
        parse_overrides(
            [
                "data.image_size=96",
                "data.resize=pad",
                "submission.kind=top-k",
                "submission.k=3",
                "submission.positive_class=dog",
                "metric=log_loss",
                "budget=10m",
                "rrc_scale=0.35",
            ]
        ),
    )
    assert (cfg.image_size, cfg.resize) == (96, "pad")
    assert (cfg.submission_kind, cfg.submission_k) == ("top-k", 3)
    assert cfg.submission_positive_class == "dog" and cfg.metric == "log_loss"
    assert cfg.budget == 600.0 and cfg.rrc_scale == 0.35
    validate(cfg)


@pytest.mark.parametrize(
    ("pairs", "needle"),
    [
        (["data.resize=zoom"], "data.resize"),
        (["data.image_size=-3"], "data.image_size"),
        (["submission.kind=csv"], "submission.kind"),
        (["rrc_scale=1.5"], "rrc_scale"),
        (["budget=inf"], "finite"),
        (["epochs=inf"], "epochs"),
    ],
)
def test_bad_data_and_submission_settings_are_user_errors(pairs: list[str], needle: str) -> None:
    with pytest.raises(ToolkitError, match=needle):
        validate(apply_overrides(TrainConfig(), parse_overrides(pairs)))


@pytest.mark.parametrize(
    ("raw", "section", "name"),
    [
        ("lr", "train", "lr"),
        (" train.lr ", "train", "lr"),
        ("data.image_size", "train", "image_size"),
        ("submission.kind", "train", "submission_kind"),
        ("loss.margin", "loss", "margin"),
        ("encoder.variant", "encoder", "variant"),
        ("loss.l2", "train", "l2"),  # a plugin parameter before it became a training setting
        ("head.init_from", "train", "init_from"),
        ("head.encoder_lr_scale", "train", "encoder_lr_scale"),
    ],
)
def test_setting_keys_have_one_grammar(raw: str, section: str, name: str) -> None:
    assert setting_key(raw) == SettingKey(section, name)


def test_an_unknown_setting_key_suggests_the_close_one() -> None:
    with pytest.raises(ToolkitError, match="did you mean 'epochs'"):
        setting_key("train.epoch")


def test_training_settings_that_were_plugin_parameters() -> None:
    pairs = ["loss.l2=0.1", "head.init_from=RUN", "head.encoder_lr_scale=0.5", "head.dropout=0.2"]
    cfg = apply_overrides(TrainConfig(), parse_overrides(pairs))
    assert (cfg.l2, cfg.init_from, cfg.encoder_lr_scale) == (0.1, "RUN", 0.5)
    assert cfg.head_params == {"dropout": 0.2} and cfg.loss_params == {}
    with pytest.raises(ToolkitError, match="l2"):
        validate(apply_overrides(TrainConfig(), {"l2": "-1"}))


def test_an_older_runs_config_reads_with_its_settings_moved() -> None:
    old = TrainConfig().to_dict()
    old["loss_params"] = {"l2": 0.1, "label_smoothing": 0.1}
    old["head_params"] = {"init_from": "RUN", "encoder_lr_scale": 0.3}
    for key in ("l2", "init_from", "encoder_lr_scale"):
        old.pop(key)
    cfg = TrainConfig.from_dict(old)
    assert (cfg.l2, cfg.init_from, cfg.encoder_lr_scale) == (0.1, "RUN", 0.3)
    assert cfg.loss_params == {"label_smoothing": 0.1} and cfg.head_params == {}
