"""Every registry test starts and ends with an empty registry (entry points rediscovered)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_registry(clean_registry: None) -> None:
    """Throwaway plugins registered by one test never leak into the next."""
