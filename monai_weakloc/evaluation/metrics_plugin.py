"""Access to the metric functions of the first-party ``weakloc_metrics`` plugin, imported on first use.

The metrics (kappa, ROC, IoM recall, box accuracy, MaxBoxAcc, FROC, pixel PR) live in the plugin
package ``weakloc_metrics``, which is installed with the toolkit but is a separate distribution. The
evaluation functions import its modules only when they run, so that the host imports without the plugin
and a missing plugin is reported by name rather than as a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["METRICS_PLUGIN", "metrics_module"]

METRICS_PLUGIN = "weakloc_metrics"
"""Import name of the metrics plugin package."""


def metrics_module(name: str) -> ModuleType:
    """Import one module of the metrics plugin.

    Args:
        name: the module inside the plugin package, e.g. ``"grading"`` for ``weakloc_metrics.grading``.

    Returns:
        the imported module.

    Raises:
        ImportError: naming the plugin and how to install it, when the plugin package is not installed.
    """
    qualified = f"{METRICS_PLUGIN}.{name}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] != METRICS_PLUGIN:
            raise
        raise ImportError(
            f"evaluation needs the metrics plugin {METRICS_PLUGIN!r} ({qualified} could not be imported); "
            f"install it with: pip install -e plugins/{METRICS_PLUGIN}"
        ) from error
