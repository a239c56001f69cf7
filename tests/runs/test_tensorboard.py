"""TensorBoard event files: a run's scalars are its metrics.csv rows, read back with
TensorBoard's own reader; the setting's auto/on/off and ``$TOOLKIT_TENSORBOARD``; ``on``
without the package is a one-line error before any run folder exists."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from tests._cli import run_main
from tests._runs import tiny_run
from toolkit.data import Competition
from toolkit.errors import ToolkitError
from toolkit.runs import tensorboard
from toolkit.runs.tensorboard import ENV, NOT_SCALARS, wanted


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from toolkit.data import make_example

    return make_example("digits", tmp_path_factory.mktemp("comp") / "digits")


@pytest.fixture(scope="module")
def digits(digits_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Competition:
    from toolkit.data import load_competition

    return load_competition(digits_dir, cache_dir=tmp_path_factory.mktemp("cache"))


def _events(path: Path) -> object:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_a_run_logs_its_metrics_rows_final_metrics_and_figures(
    digits: Competition, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)  # auto, with the package installed: logs
    path = tiny_run(digits, runs_root=tmp_path, tensorboard="auto", head_epochs=4)
    assert list(path.glob("events.out.tfevents.*"))
    acc = _events(path)

    with open(path / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and "lr" in rows[0]
    expected: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for key, text in row.items():
            if key not in NOT_SCALARS and text != "":
                expected.setdefault(f"{row['stage']}/{key}", []).append(
                    (int(row["step"]), float(text))
                )
    record = json.loads((path / "run.json").read_text())
    final = {
        f"final/{k}": v
        for k, v in record["metrics"].items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    assert {"head/train_loss", "head/val_acc", "head/lr", "head/images_per_s"} <= set(expected)
    assert set(acc.Tags()["scalars"]) == set(expected) | set(final)
    for tag, points in expected.items():
        logged = [(e.step, e.value) for e in acc.Scalars(tag)]
        assert [s for s, _ in logged] == [s for s, _ in points], tag
        # metrics.csv keeps 6 significant digits and TensorBoard float32: both near the row
        np.testing.assert_allclose([v for _, v in logged], [v for _, v in points], rtol=1e-5)
    for tag, value in final.items():
        assert acc.Scalars(tag)[0].value == pytest.approx(value, rel=1e-6)
    # The learning rate each evaluation logs is the schedule's (cosine down from lr_peak).
    lrs = [v for _, v in expected["head/lr"]]
    peak = float(rows[0]["lr_peak"])
    assert all(0 < lr <= peak for lr in lrs) and lrs == sorted(lrs, reverse=True)

    from PIL import Image

    pngs = {p.stem: p for p in path.glob("*.png")}  # curves, confusion...: what the run drew
    assert "curves" in pngs and set(acc.Tags()["images"]) == set(pngs)
    for tag, png in pngs.items():
        image = Image.open(io.BytesIO(acc.Images(tag)[0].encoded_image_string))
        assert image.size == Image.open(png).size
    assert "config/text_summary" in acc.Tags()["tensors"]


@pytest.mark.parametrize(
    ("mode", "env", "logs"),
    [
        ("auto", None, True),  # the package is installed (dev extra)
        ("auto", "off", False),
        ("auto", "on", True),
        ("on", "off", True),  # the environment overrides auto only
        ("off", "on", False),
        ("off", None, False),
    ],
)
def test_the_setting_and_the_environment(
    mode: str, env: str | None, logs: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, env)
    assert wanted(mode) is logs


def test_without_the_package_auto_is_off_and_on_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(tensorboard, "installed", lambda: False)
    assert wanted("auto") is False
    with pytest.raises(ToolkitError, match=r'pip install "toolkit-ic\[tensorboard\]"'):
        wanted("on")
    monkeypatch.setenv(ENV, "sometimes")
    with pytest.raises(ToolkitError, match=ENV):
        wanted("auto")


@pytest.mark.parametrize(
    ("value", "missing", "message"),
    [
        ("on", True, 'tensorboard=on needs the tensorboard package: pip install "toolkit-ic'),
        ("yes", False, "tensorboard must be auto, on or off"),
    ],
)
def test_tk_train_refuses_before_any_run_folder(
    value: str,
    missing: bool,
    message: str,
    digits_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TOOLKIT_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    if missing:
        monkeypatch.setattr(tensorboard, "installed", lambda: False)
    before = {p: p.stat().st_mtime_ns for p in digits_dir.rglob("*")}
    code, out, err = run_main(
        capsys, "train", str(digits_dir), "--encoder", "pixels", "--head", "linear-probe",
        "--set", f"tensorboard={value}", "--quiet",
    )  # fmt: skip
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "runs").exists()
    assert {p: p.stat().st_mtime_ns for p in digits_dir.rglob("*")} == before


def test_a_broken_install_is_skipped_by_auto_and_named_by_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from toolkit.runs import RunDir

    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import raises
    run = RunDir(tmp_path)
    assert tensorboard.open_log(run, "auto") is None
    tensorboard.write_summary(run, "auto", {"val_acc": 1.0}, {})
    assert not list(tmp_path.iterdir())
    with pytest.raises(ToolkitError, match="cannot load TensorBoard"):
        tensorboard.open_log(run, "on")


def test_a_full_disk_under_the_event_writer_is_one_line_naming_the_file(tmp_path: Path) -> None:
    import errno

    from toolkit.errors import WriteError
    from toolkit.runs.tensorboard import EventLog

    class FullDisk:  # a SummaryWriter whose background thread hit ENOSPC
        def get_logdir(self) -> str:
            return str(tmp_path / "runs" / "r1")

        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteError, match=r"cannot write .*r1.*no space left on device"):
        EventLog(FullDisk()).flush()
