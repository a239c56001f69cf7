"""Every registry test starts and ends with an empty registry (entry points rediscovered)."""

from __future__ import annotations

import pytest

from toolkit.registry import KINDS


@pytest.fixture(autouse=True)
def _isolated_registry(clean_registry: None) -> None:
    """Throwaway plugins registered by one test never leak into the next."""


@pytest.fixture
def without_contracts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``create`` return whatever a factory builds.

    The generic Registry and discovery tests use fakes that return their own arguments (a dict,
    a tuple) so the arguments can be asserted; contracts are tested in test_contracts.py.
    """
    for registry in KINDS.values():
        monkeypatch.setattr(registry, "contract", None)
