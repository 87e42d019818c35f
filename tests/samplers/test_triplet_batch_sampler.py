"""Triplet batches: anchor and positive from the lesion pool, negatives selectively from the healthy pool."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
from monai.data import DataLoader

from weakloc_samplers.triplet import TripletBatchSampler

LESION = [0, 2, 4, 6, 8]
HEALTHY = [1, 3, 5, 7, 9, 11]


def split(batch: list[int], triplets: int) -> tuple[list[int], list[int], list[int]]:
    return batch[:triplets], batch[triplets : 2 * triplets], batch[2 * triplets :]


def test_batches_hold_anchors_positives_from_lesions_and_negatives_from_healthy():
    sampler = TripletBatchSampler(LESION, HEALTHY, triplets_per_batch=4, num_batches=25, seed=0)
    batches = list(sampler)

    assert len(sampler) == len(batches) == 25
    for batch in batches:
        assert len(batch) == 12
        anchors, positives, negatives = split(batch, 4)
        assert set(anchors) <= set(LESION)
        assert set(positives) <= set(LESION)
        assert set(negatives) <= set(HEALTHY)
        assert all(anchor != positive for anchor, positive in zip(anchors, positives))
    anchors_seen = Counter(index for batch in batches for index in split(batch, 4)[0])
    assert set(anchors_seen) == set(LESION)


def test_default_length_is_one_anchor_per_lesion_sample_shared_across_ranks():
    assert len(TripletBatchSampler(LESION, HEALTHY)) == 5
    assert len(TripletBatchSampler(LESION, HEALTHY, triplets_per_batch=2)) == 3
    assert len(TripletBatchSampler(LESION, HEALTHY, num_batches=7, num_replicas=2, rank=1)) == 4


def test_draw_is_determined_by_seed_and_epoch():
    samplers = [TripletBatchSampler(LESION, HEALTHY, triplets_per_batch=2, seed=seed) for seed in (1, 1, 2)]
    for sampler in samplers:
        sampler.set_epoch(4)
    first, second, other_seed = (list(sampler) for sampler in samplers)

    assert first == second
    assert first != other_seed
    samplers[0].set_epoch(5)
    assert list(samplers[0]) != first


def test_rank_shares_are_disjoint_batches_of_the_epoch_draw():
    ranks = [
        TripletBatchSampler(LESION, HEALTHY, triplets_per_batch=2, num_batches=6, seed=9, num_replicas=2, rank=rank)
        for rank in (0, 1)
    ]
    single = TripletBatchSampler(LESION, HEALTHY, triplets_per_batch=2, num_batches=6, seed=9)
    for sampler in (single, *ranks):
        sampler.scored_pool.set_losses(torch.arange(6.0))
        sampler.set_epoch(1)
    shares = [list(sampler) for sampler in ranks]
    interleaved = [batch for pair in zip(*shares) for batch in pair]

    assert len(shares[0]) == len(shares[1]) == 3
    assert interleaved == ranks[0].draw_epoch() == list(single)


def test_negatives_follow_the_healthy_losses():
    sampler = TripletBatchSampler(LESION, HEALTHY, triplets_per_batch=10, num_batches=200, floor=0.1, seed=3)
    sampler.scored_pool.set_losses([0.0, 0.0, 0.0, 0.0, 0.0, 9.5])
    negatives = Counter(index for batch in sampler for index in split(batch, 10)[2])

    share_of_eleven = negatives[11] / 2000
    assert share_of_eleven == pytest.approx(9.6 / 10.1, abs=0.02)
    assert set(negatives) == set(HEALTHY)


def test_data_loader_batches_split_into_anchor_positive_negative():
    dataset = [{"image": torch.full((1, 4, 4), float(index)), "index": index} for index in range(12)]
    sampler = TripletBatchSampler(LESION, HEALTHY, triplets_per_batch=3, seed=0)
    loader = DataLoader(dataset, batch_sampler=sampler)

    batches = list(loader)
    assert len(batches) == math.ceil(5 / 3)
    for batch in batches:
        anchors, positives, negatives = torch.chunk(batch["image"], 3)
        assert anchors.shape == (3, 1, 4, 4)
        assert set(negatives[:, 0, 0, 0].long().tolist()) <= set(HEALTHY)
        assert set(positives[:, 0, 0, 0].long().tolist()) <= set(LESION)


def test_bad_pools_are_rejected_with_the_reason():
    with pytest.raises(ValueError, match="at least two"):
        TripletBatchSampler([3], HEALTHY)
    with pytest.raises(ValueError, match="dataset index 4 is in both"):
        TripletBatchSampler(LESION, [1, 4])
    with pytest.raises(ValueError, match="at least one"):
        TripletBatchSampler(LESION, [])
    with pytest.raises(ValueError, match="triplets_per_batch"):
        TripletBatchSampler(LESION, HEALTHY, triplets_per_batch=0)
