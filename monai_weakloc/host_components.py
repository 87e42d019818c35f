"""The host's own registry components: generic ones that work with any classifier, registered by name.

:meth:`monai_weakloc.registry.Registry.discover` calls :func:`register` once, before it reads the plugins'
entry points and also when plugin autoload is off, so the components are owned by the host
(:data:`~monai_weakloc.registry.HOST_PLUGIN`) and ``weakloc plugins list`` shows them under it.

- localizer ``guided_backprop`` and ``gradient``: :class:`~monai_weakloc.localize.gradient_localizer.GradientLocalizer`
  with that saliency method, e.g.
  ``{"_target_": "monai_weakloc.registry.create", "kind": "localizer", "name": "guided_backprop",
  "network": "@network", "target_class": 1}``.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from monai_weakloc.localize.gradient_localizer import SALIENCY_METHODS, GradientLocalizer

if TYPE_CHECKING:
    from monai_weakloc.registry import Registry

__all__ = ["register"]


def register(registry: Registry) -> None:
    """Register the host's components in ``registry``."""
    for method in SALIENCY_METHODS:
        registry.register("localizer", method, partial(GradientLocalizer, method=method))
