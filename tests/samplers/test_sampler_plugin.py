"""The samplers plugin registers its samplers; a fresh registry finds and builds them by name."""

from __future__ import annotations

import pytest
import torch
from monai.data import DataLoader

from monai_weakloc.registry import Registry
from weakloc_samplers.hard_example import HardExampleSampler
from weakloc_samplers.plugin import register
from weakloc_samplers.selective import SelectiveSampler
from weakloc_samplers.triplet import TripletBatchSampler


def test_fresh_registry_discovers_and_builds_every_sampler():
    registry = Registry()

    hard = registry.create("sampler", "hard_example", data_source=range(9), seed=2, num_replicas=2, rank=1)
    selective = registry.create("sampler", "selective", pool=[3, 5, 7], num_samples=6)
    triplet = registry.create("sampler", "triplet_batch", lesion_pool=[0, 1], healthy_pool=[2, 3], num_batches=4)

    assert {"hard_example", "selective", "triplet_batch"} <= set(registry.names("sampler"))
    assert registry.owner("sampler", "selective") == "weakloc_samplers"
    assert isinstance(hard, HardExampleSampler) and len(hard) == 5
    assert isinstance(selective, SelectiveSampler) and set(selective) <= {3, 5, 7}
    assert isinstance(triplet, TripletBatchSampler) and len(list(triplet)) == 4


def test_registered_sampler_drives_a_data_loader():
    registry = Registry()
    register(registry)
    sampler = registry.create("sampler", "selective", pool=range(4), num_samples=8, seed=0)
    loader = DataLoader(torch.arange(10), batch_size=4, sampler=sampler)

    batches = list(loader)

    assert [len(batch) for batch in batches] == [4, 4]
    assert torch.cat(batches).tolist() == sampler.draw_epoch()
    with pytest.raises(ValueError, match="already registered"):
        register(registry)
