"""The built-in plugins (installed as ``toolkit_plugins``); see docs/PLUGINS.md."""
