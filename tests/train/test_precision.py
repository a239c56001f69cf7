"""Precision: bf16 autocast where the hardware computes bf16 natively, fp32 elsewhere."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from toolkit.data import Competition
from toolkit.errors import ToolkitError
from toolkit.train import TrainConfig, train
from toolkit.train import device as dev

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_auto_is_bf16_only_where_it_is_native(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLKIT_PRECISION", raising=False)
    monkeypatch.setattr(dev, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert dev.native_bf16() == [] and dev.resolve_precision("auto", CPU) == "fp32"
    assert dev.resolve_precision("auto", CUDA) == "bf16"
    monkeypatch.setattr(dev, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16"}))
    assert dev.native_bf16() == ["amx_bf16"] and dev.resolve_precision("auto", CPU) == "bf16"
    assert dev.resolve_precision("fp32", CPU) == "fp32"  # asked outright: as asked
    monkeypatch.setenv("TOOLKIT_PRECISION", "fp32")
    assert dev.resolve_precision("auto", CPU) == "fp32"  # the environment overrides auto only
    assert dev.resolve_precision("bf16", CPU) == "bf16"
    monkeypatch.setenv("TOOLKIT_PRECISION", "fp8")
    with pytest.raises(ToolkitError, match="auto, fp32 or bf16"):
        dev.resolve_precision("auto", CPU)


def test_cpu_flags_are_read_from_the_machine() -> None:
    flags = dev.cpu_flags()
    assert isinstance(flags, frozenset)
    if Path("/proc/cpuinfo").exists() and "flags" in Path("/proc/cpuinfo").read_text():
        assert flags  # a Linux x86 machine lists its flags


def test_setup_torch_returns_a_bf16_autocast_for_bf16() -> None:
    autocast = dev.setup_torch(0, CPU, threads=1, precision="bf16")
    with autocast():
        out = torch.nn.Linear(4, 2)(torch.ones(3, 4))
    assert out.dtype == torch.bfloat16
    with dev.setup_torch(0, CPU, threads=1, precision="fp32")():
        assert torch.nn.Linear(4, 2)(torch.ones(3, 4)).dtype == torch.float32


def test_a_bf16_run_trains_and_records_its_precision(digits: Competition, runs_dir: Path) -> None:
    cfg = TrainConfig(
        encoder="fastnet", encoder_params={"width": 0.25}, epochs=2, precision="bf16"
    )
    result = train(cfg, digits, quiet=True)
    assert result.metrics["val_acc"] > 0.8  # bf16 convolutions still learn digits
    machine = json.loads((result.path / "run.json").read_text())["machine"]
    assert machine["precision"] == "bf16" and machine["device"] == "cpu"
    assert machine["threads"] >= 1 and isinstance(machine["cpu_native_bf16"], list)


def test_an_unknown_precision_is_refused() -> None:
    from toolkit.train.config import validate

    with pytest.raises(ToolkitError, match="precision"):
        validate(TrainConfig(precision="fp16"))


def test_bf16_asked_for_on_a_cpu_that_emulates_it_is_warned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TOOLKIT_PRECISION", raising=False)
    monkeypatch.setattr(dev, "cpu_flags", lambda: frozenset({"avx2", "fma"}))  # AVX2 only
    assert "emulates" in str(dev.emulated_bf16("bf16", CPU))
    monkeypatch.setenv("TOOLKIT_PRECISION", "bf16")  # the environment's bf16 too
    assert "emulates" in str(dev.emulated_bf16("auto", CPU))
    monkeypatch.delenv("TOOLKIT_PRECISION")
    assert dev.emulated_bf16("auto", CPU) is None  # auto is fp32 there: nothing to say
    assert dev.emulated_bf16("fp32", CPU) is None
    assert dev.emulated_bf16("bf16", CUDA) is None
    monkeypatch.setattr(dev, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert dev.emulated_bf16("bf16", CPU) is None  # native
    monkeypatch.setattr(dev, "cpu_flags", frozenset)  # flags unreadable: no guess
    assert dev.emulated_bf16("bf16", CPU) is None


def test_a_run_in_emulated_bf16_says_so(
    digits: Competition,
    runs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(dev, "cpu_flags", lambda: frozenset({"avx2"}))
    cfg = TrainConfig(encoder="pixels", head="linear-probe", epochs=1, precision="bf16")
    train(cfg, digits)
    assert "warning: precision bf16 on a CPU without native bf16" in capsys.readouterr().err
    train(dataclasses.replace(cfg, precision="fp32"), digits)
    assert "native bf16" not in capsys.readouterr().err
