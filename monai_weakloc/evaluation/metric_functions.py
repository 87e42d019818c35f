"""The metric functions and classes of the evaluation, looked up by name in the component registry.

The metrics (kappa, ROC, IoM recall, box accuracy, MaxBoxAcc, FROC, pixel PR, pointing) are registered under
kind ``metric`` by the first-party plugin ``weakloc_metrics``, which is installed with the toolkit but is a
separate distribution; a plugin may replace one by registering a function of the same name. The evaluation
functions look them up only when they run, so that the host imports without the plugin and a missing metric
is reported by name rather than as a bare ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monai_weakloc import registry

__all__ = ["METRICS_PLUGIN", "metric_function"]

METRICS_PLUGIN = "weakloc_metrics"
"""Name of the plugin that registers the metrics of the evaluation."""


def metric_function(name: str) -> Callable[..., Any]:
    """The function or class registered as metric ``name``.

    Args:
        name: the registry name, e.g. ``"compute_quadratic_weighted_kappa"``.

    Returns:
        the registered function or class.

    Raises:
        ImportError: when no loaded plugin registers ``name``; the message names the metric and the plugin that
            provides it, how to install it, and the plugins that failed to load.
    """
    try:
        return registry.get("metric", name)
    except KeyError as error:
        found = registry.plugins()
        failed = [plugin for plugin in found if not plugin.loaded]
        message = (
            f"evaluation needs the metric {name!r}, which no loaded plugin registers; "
            f"the metrics plugin {METRICS_PLUGIN!r} provides it"
        )
        if not any(plugin.name == METRICS_PLUGIN for plugin in failed):
            message += f": install it with: pip install -e plugins/{METRICS_PLUGIN}"
        if not found:
            message += f" (no plugin was found; autoload is off if {registry.AUTOLOAD_ENV} is set)"
        if failed:
            errors = ", ".join(f"{plugin.name} ({plugin.error})" for plugin in failed)
            message += f"; plugins that failed to load: {errors}; see: weakloc plugins list --traceback"
        raise ImportError(message) from error
