"""``tk data check`` and ``tk data example``, driven through ``toolkit.cli.main``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from toolkit.cli import main
from toolkit.cli.data import app


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    # Another test's `tk --debug` leaves TOOLKIT_DEBUG=1 in-process; errors must stay one line.
    monkeypatch.setenv("TOOLKIT_DEBUG", "0")


@pytest.fixture
def comp(tmp_path: Path) -> Path:
    """A 3-class, 12x12 RGB Kaggle-layout competition with integer labels."""
    root = tmp_path / "tiny"
    rng = np.random.default_rng(0)
    for split, ids in (("train", range(1, 10)), ("test", range(10, 13))):
        (root / split).mkdir(parents=True)
        for i in ids:
            pixels = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / split / f"{i}.png")
    _csv(root / "train.csv", ["id", "label"], [(i, i % 3) for i in range(1, 10)])
    _csv(root / "sample_submission.csv", ["ImageId", "Label"], [(i, 0) for i in range(10, 13)])
    return root


def _csv(path: Path, header: list[str], rows: list[tuple[int, int]]) -> None:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])


def test_check_prints_summary_table(comp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["data", "check", str(comp)])
    out, err = capsys.readouterr()
    for text in ("kaggle-images", "3 x 12 x 12", "ImageId, Label", "channel mean", "Classes"):
        assert text in out
    assert "decoding 12 images" in err  # progress goes to stderr, not stdout
    main(["data", "check", str(comp)])
    assert "from the cache" in capsys.readouterr().err


def test_check_json(comp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["data", "check", str(comp), "--json", "--refresh"])
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "kaggle-images"
    assert info["image_shape"] == [3, 12, 12]
    assert info["train_count"] == 9 and info["test_count"] == 3
    assert [c["label"] for c in info["classes"]] == [0, 1, 2]  # ints stay ints
    assert [c["train"] for c in info["classes"]] == [3, 3, 3]
    assert info["submission_columns"] == ["ImageId", "Label"]
    assert info["has_answers"] is False
    assert len(info["channel_mean"]) == 3 and len(info["channel_std"]) == 3


def test_check_bad_folder_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["data", "check", str(tmp_path / "missing")])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "missing does not exist" in err


def test_check_broken_competition_exits_2(comp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (comp / "train" / "4.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(SystemExit) as info:
        main(["data", "check", str(comp)])
    assert info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:]
    assert "cannot read image train/4.png" in lines[-1]


def test_example_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "digits"
    main(["data", "example", "digits", str(out_dir)])
    assert str(out_dir) in capsys.readouterr().out
    main(["data", "check", str(out_dir), "--json"])
    info = json.loads(capsys.readouterr().out)
    assert info["num_classes"] == 10 and info["image_shape"] == [1, 8, 8]
    assert info["has_answers"] is True


def test_example_unknown_name_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["data", "example", "imagenet", str(tmp_path / "x")])
    assert info.value.code == 2
    assert "unknown example 'imagenet'" in capsys.readouterr().err


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "check" in result.output and "example" in result.output
