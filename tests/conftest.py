"""Fixtures shared across the test suite.

``clean_registry`` gives a test an empty plugin registry (entry points are rediscovered on
first use) and a clean environment; ``fake_dist`` puts an installed-looking distribution with
entry points on ``sys.path`` without running pip.
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

MakeDist = Callable[..., Path]

# Tests train tiny models: one torch thread each is faster than two threads waiting on each
# other, above all on a shared 2-core machine. Worker subprocesses inherit it.
os.environ.setdefault("TOOLKIT_THREADS", "1")
# precision = auto means bf16 on CPUs with native bf16 and fp32 elsewhere: the suite pins fp32
# so that its numbers are the same on every machine (tests/train/test_precision.py covers bf16).
os.environ.setdefault("TOOLKIT_PRECISION", "fp32")
# tensorboard = auto logs whenever the package is installed (the dev extra installs it); runs
# pay ~0.3 s for the summary figures, so the suite turns it off (tests/runs/test_tensorboard.py
# turns it on).
os.environ.setdefault("TOOLKIT_TENSORBOARD", "off")


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget every registration and plugin path before and after the test."""
    from toolkit.registry import _discovery

    monkeypatch.delenv("TOOLKIT_PLUGINS", raising=False)
    # `tk --debug` sets TOOLKIT_DEBUG=1 in-process; setting it here makes monkeypatch undo that.
    monkeypatch.setenv("TOOLKIT_DEBUG", "0")
    _discovery.reset()
    yield
    _discovery.reset()


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """Factory: ``make(dist_name, {group: {name: "module:object"}}, {module: source})``.

    Each distribution gets its own folder on ``sys.path`` holding a ``*.dist-info`` (METADATA and
    entry_points.txt) and the given modules, exactly what ``importlib.metadata`` reads for a
    package installed with pip. The modules are dropped from ``sys.modules`` afterwards.
    """
    created: list[str] = []

    def make(
        name: str,
        entry_points: dict[str, dict[str, str]],
        modules: dict[str, str] | None = None,
    ) -> Path:
        root = tmp_path / f"site-{name}"
        info = root / f"{name.replace('-', '_')}-0.1.dist-info"
        info.mkdir(parents=True)
        for module, source in (modules or {}).items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
            created.append(module)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        lines = []
        for group, eps in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{ep_name} = {value}" for ep_name, value in eps.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        monkeypatch.syspath_prepend(str(root))
        importlib.invalidate_caches()
        return root

    yield make
    for module in created:
        sys.modules.pop(module, None)
