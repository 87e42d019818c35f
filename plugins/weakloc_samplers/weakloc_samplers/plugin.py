"""Entry point of the ``weakloc_samplers`` plugin: registers its components with the host registry."""

from __future__ import annotations

from monai_weakloc.registry import Registry

from weakloc_samplers.hard_example import HardExampleSampler
from weakloc_samplers.selective import SelectiveSampler
from weakloc_samplers.triplet import TripletBatchSampler


def register(registry: Registry) -> None:
    """Register every samplers component of this plugin.

    Registered samplers: ``hard_example`` (:class:`HardExampleSampler`), ``selective``
    (:class:`SelectiveSampler`), ``triplet_batch`` (:class:`TripletBatchSampler`).

    Args:
        registry: the host registry to fill.
    """
    registry.register("sampler", "hard_example", HardExampleSampler)
    registry.register("sampler", "selective", SelectiveSampler)
    registry.register("sampler", "triplet_batch", TripletBatchSampler)
