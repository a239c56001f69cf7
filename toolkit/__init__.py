"""toolkit: image-classification competitions, from a folder to a validated leaderboard CSV.

The core is split by stage (see ARCHITECTURE in the README):
``toolkit.data`` (competition folders), ``toolkit.registry`` (plugins),
and ``toolkit.cli`` (the ``tk`` command). Heavy libraries (torch, timm, optuna,
scikit-learn) are imported lazily, inside the functions that need them.
"""

from toolkit.errors import ToolkitError

__all__ = ["ToolkitError", "__version__"]
__version__ = "0.1.0"
