"""A plugin module that cannot be imported (as when its own dependency is missing)."""

raise ImportError("toolkit-broken-plugin needs libtiny, which is not installed")
