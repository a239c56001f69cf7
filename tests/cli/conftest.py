"""Fixtures for CLI tests: the tuning tests' digits competition and temporary folders."""

from tests.tune.conftest import digits_path, tune_env

__all__ = ["digits_path", "tune_env"]
