"""--set overrides and config validation."""

from __future__ import annotations

import pytest

from toolkit.errors import ToolkitError
from toolkit.train.config import TrainConfig, apply_overrides, parse_overrides, validate


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
