"""Study files: the checked-in examples parse; every kind of mistake is a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.errors import ToolkitError
from toolkit.registry import Float
from toolkit.tune import load_spec, parse_spec, with_fixed
from toolkit.tune.objective import param_names, trial_config

STUDIES = Path(__file__).resolve().parents[2] / "toolkit" / "studies"  # the shipped examples

BASE = {"pipelines": [{"encoder": "pixels", "loss": "softmax-ce", "head": "linear-probe"}]}


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.toml")), ids=lambda p: p.name)
def test_checked_in_studies_parse(path: Path) -> None:
    spec = load_spec(path)
    assert spec.pipelines and spec.trials >= 1
    for p in spec.pipelines:
        assert p.space, f"{p.label} searches nothing"


def test_plugin_spaces_are_the_default_and_the_file_narrows_them() -> None:
    data = {
        "pipelines": [
            {
                "encoder": "convnet4",
                "loss": "triplet",
                "head": "linear-probe",
                "space": {"loss.margin": {"type": "float", "low": 0.5, "high": 0.6}},
            }
        ]
    }
    spec = parse_spec(data, name="x")
    space = spec.pipelines[0].space
    assert space["loss.margin"] == Float(0.5, 0.6)
    assert "encoder.embedding_dim" in space  # declared by convnet4
    assert any(k in space for k in ("lr", "weight_decay"))  # train.* from a plugin


def test_overrides_from_the_command_line_win() -> None:
    spec = parse_spec({**BASE, "study": {"trials": 3}}, name="x", overrides={"trials": 9})
    assert spec.trials == 9


@pytest.mark.parametrize(
    ("pruner", "kind"),
    [
        ("asha", "SuccessiveHalvingPruner"),
        ("hyperband", "HyperbandPruner"),
        ("median", "MedianPruner"),
        ("none", "NopPruner"),
    ],
)
def test_pruner_key_picks_the_optuna_pruner(tmp_path: Path, pruner: str, kind: str) -> None:
    from toolkit.tune.worker import open_study

    spec = parse_spec({**BASE, "study": {"pruner": pruner}}, name=f"p-{pruner}")
    assert spec.pruner == pruner
    assert parse_spec(BASE, name="default").pruner == "asha"  # the default
    study = open_study(spec, f"journal:{tmp_path / 'p.journal'}")
    assert type(study.pruner).__name__ == kind


def test_tune_pruner_option_is_checked_like_the_file_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests._cli import run_main

    code, _, err = run_main(capsys, "tune", str(STUDIES / "compare.toml"), "--pruner", "magic")
    assert code == 2 and "pruner must be asha, hyperband, median, wilcoxon or none" in err


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"pipelines": []}, "no [[pipelines]]"),
        (
            {"pipelines": [{"encoder": "nosuch", "loss": "bce", "head": "finetune"}]},
            "unknown encoder 'nosuch'",
        ),
        ({"pipelines": [{"encoder": "pixels", "loss": "softmax-ce"}]}, "needs head"),
        ({**BASE, "fixed": {"lrr": 0.1}}, "unknown parameter 'lrr'"),
        ({**BASE, "fixed": {"loss.marginn": 0.1}}, "marginn"),
        ({**BASE, "space": {"lr": {"type": "float", "low": 0.1, "high": 0.01}}}, "inverted"),
        ({**BASE, "space": {"lr": {"type": "float", "low": 0.1, "high": 0.1}}}, "empty"),
        ({**BASE, "space": {"lr": []}}, "empty"),
        ({**BASE, "study": {"trials": -2}}, "trials must be at least 1"),
        ({**BASE, "study": {"timeout": -5}}, "timeout must be positive"),
        ({**BASE, "study": {"pruner": "magic"}}, "pruner"),
        ({**BASE, "study": {"bogus": 1}}, "unknown [study] key"),
        ({**BASE, "extra": {}}, "unknown top-level"),
        ({**BASE, "fixed": {"lr": -1.0}}, "learning rates must be > 0"),
    ],
)
def test_bad_study_files_are_user_errors(data: dict, needle: str) -> None:
    with pytest.raises(ToolkitError) as info:
        parse_spec(data, name="bad")
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[study\ntrials = 3\n")
    with pytest.raises(ToolkitError, match=r"broken\.toml is not valid TOML"):
        load_spec(path)


def test_param_names_are_prefixed_only_when_pipelines_disagree() -> None:
    spec = load_spec(STUDIES / "compare.toml")
    names = param_names(spec)
    assert {v for (_, k), v in names.items() if k == "lr"} == {"lr"}  # shared range
    clash = parse_spec(
        {
            "pipelines": [
                {
                    **BASE["pipelines"][0],
                    "default_space": False,
                    "space": {"lr": {"type": "float", "low": 1e-3, "high": 1e-2}},
                },
                {
                    "encoder": "pixels",
                    "loss": "bce",
                    "head": "linear-probe",
                    "default_space": False,
                    "space": {"lr": {"type": "float", "low": 1e-4, "high": 1e-2}},
                },
            ]
        },
        name="clash",
    )
    assert set(param_names(clash).values()) == {
        "pixels+softmax-ce+linear-probe/lr",
        "pixels+bce+linear-probe/lr",
    }


def test_trial_config_applies_fixed_and_suggested_settings() -> None:
    import optuna

    spec = load_spec(STUDIES / "compare.toml")
    trial = optuna.trial.FixedTrial(
        {
            "pipeline": "fastnet+softmax-ce+finetune",
            "lr": 0.002,
            "loss.label_smoothing": 0.1,
        }
    )
    pipeline, cfg = trial_config(trial, spec)
    assert pipeline.head == "finetune"
    assert cfg.lr == 0.002 and cfg.loss_params == {"label_smoothing": 0.1}
    assert cfg.encoder_params == {"width": 0.5} and cfg.epochs == spec.fixed["epochs"]


def test_setting_keys_have_one_spelling_so_the_file_replaces_the_plugins_range() -> None:
    """``train.lr`` and ``lr`` are one setting (toolkit.train.config.setting_key reads both)."""
    data = {
        "fixed": {"train.epochs": 3, "loss.l2": 0.01},
        "space": {"train.lr": {"type": "float", "low": 1e-3, "high": 2e-3}},
        "pipelines": [
            {"encoder": "fastnet", "loss": "softmax-ce", "head": "finetune"},
            {
                "encoder": "fastnet",
                "loss": "bce",
                "head": "finetune",
                "fixed": {"data.image_size": 16, "train.weight_decay": 0.0},
            },
        ],
    }
    spec = parse_spec(data, name="x")
    assert spec.fixed == {"epochs": 3, "l2": 0.01}  # loss.l2: the legacy name of a field
    first, second = (p.space for p in spec.pipelines)
    assert first["lr"] == Float(1e-3, 2e-3) and "train.lr" not in first  # fastnet's, replaced
    assert "weight_decay" in first and "weight_decay" not in second  # fixed: not searched
    assert second["lr"] == Float(1e-3, 2e-3)  # the study-wide range, in every pipeline
    assert spec.pipelines[1].fixed == {"image_size": 16, "weight_decay": 0.0}


def test_with_fixed_adds_settings_in_the_stored_spelling() -> None:
    spec = parse_spec({**BASE, "fixed": {"epochs": 2}}, name="x")
    added = with_fixed(spec, {"train.epochs": "4", "data.image_size": "16"})
    assert added.fixed == {"epochs": "4", "image_size": "16"} and spec.fixed == {"epochs": 2}
    with pytest.raises(ToolkitError, match="unknown setting 'lrr'"):
        with_fixed(spec, {"lrr": "1"})


def test_a_study_without_a_validation_split_is_refused_at_parse() -> None:
    with pytest.raises(ToolkitError, match="val_fraction = 0 leaves no validation split"):
        parse_spec({**BASE, "fixed": {"val_fraction": 0.0}}, name="x")
