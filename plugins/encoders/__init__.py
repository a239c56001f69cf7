"""Built-in encoders, one plugin per module, registered through entry points (pyproject.toml)."""
