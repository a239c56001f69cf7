"""``tk predict RUN FOLDER``: a folder of new images predicted as the run's test set was."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from tests._cli import run_main
from toolkit.data import Competition
from toolkit.errors import ToolkitError
from toolkit.submit.folder_predict import predict_folder


def _digit_png(path: Path, image: np.ndarray, size: int | None = None, rgb: bool = False) -> Path:
    """An sklearn digit (values 0..16) as an 8-bit PNG (optionally resized, or RGB)."""
    im = Image.fromarray((image * 255 / 16).astype(np.uint8))
    if size:
        im = im.resize((size, size))
    im.convert("RGB" if rgb else "L").save(path)
    return path


def test_predict_writes_a_row_per_file_labels_the_argmax_and_reads_other_sizes(
    trained: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = load_digits().images
    folder = tmp_path / "new"
    folder.mkdir()
    for i in range(4):
        _digit_png(folder / f"digit{i}.png", images[i])
    _digit_png(folder / "big-rgb.png", images[5], size=24, rgb=True)  # another size and mode
    out = tmp_path / "pred.csv"

    argv = ["predict", str(trained[0]), str(folder), "--out", str(out)]
    code, stdout, err = run_main(capsys, *argv)

    assert code == 0, err
    assert str(out) in stdout
    table = pd.read_csv(out)
    classes = [f"p_{k}" for k in range(10)]
    assert list(table.columns) == ["file", "label", *classes]
    assert sorted(table["file"]) == sorted(p.name for p in folder.iterdir())
    probs = table[classes].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (table["label"].to_numpy() == probs.argmax(axis=1)).all()


def test_the_competitions_own_test_images_get_the_runs_test_predictions(
    trained: list[Path], digits: Competition, tmp_path: Path
) -> None:
    folder = tmp_path / "from-test"
    folder.mkdir()
    rows = [0, 3, 7, 20, 41]
    for row in rows:  # the very files the competition's test set was decoded from
        name = f"{digits.test_ids[row]}.png"
        (folder / name).write_bytes((digits.root / "test" / name).read_bytes())

    prediction = predict_folder(str(trained[0]), folder)

    run_probs = np.load(trained[0] / "test_probs.npy")[rows]  # (5, K)
    order = [prediction.files.index(f"{digits.test_ids[r]}.png") for r in rows]
    np.testing.assert_allclose(prediction.probs[order], run_probs, atol=1e-5)
    assert [prediction.labels[i] for i in order] == list(run_probs.argmax(axis=1))


def test_json_names_the_csv_and_an_empty_folder_is_one_line(
    trained: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "imgs"
    folder.mkdir()
    _digit_png(folder / "a.png", load_digits().images[0])
    code, stdout, err = run_main(capsys, "predict", str(trained[0]), str(folder), "--json")
    assert code == 0, err
    record = json.loads(stdout)
    assert Path(record["csv"]).is_file() and record["images"] == 1
    assert Path(record["csv"]).parent.name == "predictions"

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ToolkitError, match="holds no image files"):
        predict_folder(str(trained[0]), empty)
