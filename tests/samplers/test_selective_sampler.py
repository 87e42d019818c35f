"""Selective sampling: draws in proportion to loss plus floor, seeded by seed + epoch, shared out across ranks."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from scipy.stats import chi2

from weakloc_samplers.selective import LossWeightedPool, SelectiveSampler


def chi_square(draw: list[int], pool: list[int], probabilities: torch.Tensor) -> float:
    counts = Counter(draw)
    expected = probabilities * len(draw)
    observed = torch.tensor([counts[index] for index in pool], dtype=torch.float64)
    return float(((observed - expected) ** 2 / expected).sum())


def test_frequencies_follow_loss_plus_floor():
    pool = [10, 11, 12, 13, 14]
    sampler = SelectiveSampler(pool, num_samples=20000, floor=0.5, seed=7)
    sampler.scored_pool.set_losses([0.0, 1.0, 2.0, 3.0, 4.0])
    expected = torch.tensor([0.5, 1.5, 2.5, 3.5, 4.5], dtype=torch.float64) / 12.5

    draw = list(sampler)

    assert torch.allclose(sampler.scored_pool.probabilities, expected)
    assert len(draw) == 20000
    assert chi_square(draw, pool, expected) < chi2.ppf(0.999, df=len(pool) - 1)
    # the same draw against uniform probabilities is far off
    assert chi_square(draw, pool, torch.full((5,), 0.2, dtype=torch.float64)) > 1000


def test_draw_is_uniform_before_any_loss_is_known():
    pool = list(range(6))
    sampler = SelectiveSampler(pool, num_samples=12000, seed=1)
    uniform = torch.full((6,), 1 / 6, dtype=torch.float64)

    assert sampler.scored_pool.losses is None
    assert torch.allclose(sampler.scored_pool.probabilities, uniform)
    assert chi_square(list(sampler), pool, uniform) < chi2.ppf(0.999, df=5)


def test_floor_keeps_zero_loss_samples_drawable():
    sampler = SelectiveSampler(range(4), num_samples=4000, floor=0.01, seed=0)
    sampler.scored_pool.set_losses([0.0, 0.0, 0.0, 1.0])
    probabilities = sampler.scored_pool.probabilities

    assert probabilities[0].item() == pytest.approx(0.01 / 1.04)
    assert set(sampler) == {0, 1, 2, 3}


def test_draw_is_determined_by_seed_and_epoch():
    losses = torch.linspace(0.1, 2.0, 30)
    samplers = [SelectiveSampler(range(30), seed=seed) for seed in (4, 4, 5)]
    for sampler in samplers:
        sampler.scored_pool.set_losses(losses)
        sampler.set_epoch(2)
    first, second, other_seed = (list(sampler) for sampler in samplers)

    assert first == second
    assert first != other_seed
    samplers[0].set_epoch(3)
    assert list(samplers[0]) != first


def test_rank_shares_are_disjoint_parts_of_the_epoch_draw():
    losses = torch.rand(9, generator=torch.Generator().manual_seed(0))
    single = SelectiveSampler(range(9), num_samples=10, seed=3)
    ranks = [SelectiveSampler(range(9), num_samples=10, seed=3, num_replicas=2, rank=rank) for rank in (0, 1)]
    for sampler in (single, *ranks):
        sampler.scored_pool.set_losses(losses)
        sampler.set_epoch(5)

    shares = [list(sampler) for sampler in ranks]
    interleaved = [index for pair in zip(*shares) for index in pair]

    assert len(ranks[0]) == len(shares[0]) == len(shares[1]) == 5
    assert interleaved == ranks[0].draw_epoch() == ranks[1].draw_epoch()
    assert interleaved == list(single)


def test_per_rank_length_rounds_up():
    assert len(SelectiveSampler(range(4), num_samples=11, num_replicas=2, rank=1)) == 6
    assert len(SelectiveSampler(range(4), num_samples=11, num_replicas=3, rank=0)) == 4


def test_losses_set_mid_epoch_steer_the_rest_of_the_epoch():
    sampler = SelectiveSampler(range(5), num_samples=400, floor=1e-6, seed=2)
    iterator = iter(sampler)
    head = [next(iterator) for _ in range(100)]
    sampler.scored_pool.set_losses([0.0, 0.0, 5.0, 0.0, 0.0])
    tail = list(iterator)

    assert len(set(head)) == 5
    assert len(tail) == 300
    assert Counter(tail)[2] >= 299


@pytest.mark.parametrize(
    "losses, message",
    [
        ([0.1, -0.2, 0.3], "dataset index 21 \\(pool position 1\\)"),
        ([0.1, float("inf"), 0.3], "dataset index 21"),
        ([0.1, 0.2], "got 2 losses for a pool of 3"),
    ],
)
def test_bad_losses_name_the_sample(losses, message):
    pool = LossWeightedPool([20, 21, 22])
    with pytest.raises(ValueError, match=message):
        pool.set_losses(losses)


def test_bad_pool_or_floor_is_rejected():
    with pytest.raises(ValueError, match="at least one"):
        LossWeightedPool([])
    with pytest.raises(ValueError, match="repeat"):
        LossWeightedPool([1, 1])
    with pytest.raises(ValueError, match="floor"):
        LossWeightedPool([1, 2], floor=0.0)
