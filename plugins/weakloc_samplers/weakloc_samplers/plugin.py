"""Entry point of the ``weakloc_samplers`` plugin: registers its components with the host registry."""

from __future__ import annotations

from monai_weakloc.registry import Registry


def register(registry: Registry) -> None:
    """Register every samplers component of this plugin.

    Args:
        registry: the host registry to fill.
    """
