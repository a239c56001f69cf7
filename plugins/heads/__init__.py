"""Built-in heads, one plugin per module, registered through entry points (pyproject.toml)."""
