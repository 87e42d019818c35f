"""Hard-example set from scores and the two-stage sampler (A, then C = A + B), single and multi-rank."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from weakloc_samplers.hard_example import HardExampleSampler, HardExampleSet, find_hard_examples


def hard_set(indices: list[int], num_labels: int = 1) -> HardExampleSet:
    return HardExampleSet(
        indices=torch.tensor(indices, dtype=torch.int64),
        hard_labels=torch.ones(len(indices), num_labels, dtype=torch.bool),
    )


def test_hard_examples_are_positive_labels_scored_below_threshold_label_by_label():
    scores = torch.tensor(
        [
            [0.9, 0.2, 0.1],  # positive label 0 scored high; the low score is on a negative label
            [0.4, 0.8, 0.7],  # positive label 0 scored low
            [0.1, 0.1, 0.1],  # no positive label
            [0.6, 0.3, 0.9],  # positives 0 and 2 scored high
            [0.3, 0.45, 0.5],  # positives 0 and 1 low, 2 exactly at the threshold
        ]
    )
    labels = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 1], [1, 1, 1]])

    hard = find_hard_examples(scores, labels, threshold=0.5)

    assert hard.indices.tolist() == [1, 4]
    assert hard.hard_labels.tolist() == [[True, False, False], [True, True, False]]
    assert hard.label_counts().tolist() == [2, 1, 0]


def test_hard_examples_report_dataset_indices_in_ascending_order():
    hard = find_hard_examples([0.1, 0.9, 0.2], [1, 1, 1], indices=[30, 10, 20])
    assert hard.indices.tolist() == [20, 30]
    assert hard.hard_labels.shape == (2, 1)


def test_no_positive_label_gives_no_hard_example_and_stage_two_equals_a():
    hard = find_hard_examples(torch.full((6, 2), 0.1), torch.zeros(6, 2))
    sampler = HardExampleSampler(range(6), seed=3)
    sampler.set_hard_examples(hard)

    assert len(hard) == 0
    assert sampler.stage == 2
    assert len(sampler) == 6
    assert sorted(sampler) == list(range(6))


def test_all_hard_doubles_every_sample_in_stage_two():
    hard = find_hard_examples(torch.full((5, 3), 0.2), torch.ones(5, 3))
    sampler = HardExampleSampler(range(5), seed=1)
    sampler.set_hard_examples(hard)

    assert hard.indices.tolist() == list(range(5))
    assert len(sampler) == 10
    assert Counter(sampler) == {index: 2 for index in range(5)}


@pytest.mark.parametrize(
    "scores, labels, message",
    [
        ([[0.2, 0.3]], [[1, 0.5]], "labels row 0"),
        ([[0.2], [1.7]], [[1], [1]], "scores row 1"),
        ([[0.2], [float("nan")]], [[1], [1]], "scores row 1"),
        ([[0.2, 0.3]], [[1]], "shape"),
    ],
)
def test_bad_scores_or_labels_name_the_row_or_shape(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        find_hard_examples(scores, labels)


def test_stage_two_epoch_size_is_a_plus_b_divided_across_ranks():
    hard = hard_set([1, 4, 7])
    for num_replicas in (1, 2, 3):
        sampler = HardExampleSampler(range(10), num_replicas=num_replicas, rank=0)
        assert len(sampler) == math.ceil(10 / num_replicas)
        sampler.set_hard_examples(hard)
        assert len(sampler) == math.ceil(13 / num_replicas)
        assert len(list(sampler)) == len(sampler)


def test_stage_two_lists_hard_samples_twice_and_clearing_returns_to_stage_one():
    sampler = HardExampleSampler(range(8), seed=0)
    sampler.set_hard_examples(hard_set([2, 5]))
    counts = Counter(sampler)
    assert counts[2] == counts[5] == 2
    assert all(counts[index] == 1 for index in (0, 1, 3, 4, 6, 7))

    sampler.clear_hard_examples()
    assert sampler.stage == 1
    assert sorted(sampler) == list(range(8))


def test_hard_index_outside_the_training_set_is_named():
    sampler = HardExampleSampler(range(4))
    with pytest.raises(ValueError, match="index 9 lies outside the training set of 4"):
        sampler.set_hard_examples(hard_set([1, 9]))


def test_draw_is_determined_by_seed_and_epoch():
    first = HardExampleSampler(range(20), seed=5)
    second = HardExampleSampler(range(20), seed=5)
    other_seed = HardExampleSampler(range(20), seed=6)
    for sampler in (first, second, other_seed):
        sampler.set_epoch(3)
    assert list(first) == list(second)
    assert list(first) != list(other_seed)

    epoch_three = list(first)
    first.set_epoch(4)
    assert list(first) != epoch_three
    assert sorted(first) == sorted(epoch_three)


@pytest.mark.parametrize("num_hard", [2, 3])
def test_rank_shares_are_disjoint_and_make_up_the_epoch_draw(num_hard):
    hard = hard_set(list(range(num_hard)))
    single = HardExampleSampler(range(10), seed=11)
    ranks = [HardExampleSampler(range(10), seed=11, num_replicas=2, rank=rank) for rank in (0, 1)]
    for sampler in (single, *ranks):
        sampler.set_hard_examples(hard)
        sampler.set_epoch(2)

    draw = list(single)
    shares = [list(sampler) for sampler in ranks]
    interleaved = [index for pair in zip(*shares) for index in pair]

    assert len(shares[0]) == len(shares[1]) == math.ceil(len(draw) / 2)
    assert interleaved[: len(draw)] == draw
    # the two ranks take disjoint positions of the draw; an odd draw is padded by its first element
    assert interleaved[len(draw) :] == draw[: len(interleaved) - len(draw)]


def test_state_dict_restores_stage_two():
    sampler = HardExampleSampler(range(6), seed=2)
    sampler.set_hard_examples(find_hard_examples([0.9, 0.1, 0.3, 0.8, 0.2, 0.7], [1, 1, 0, 1, 1, 0]))
    restored = HardExampleSampler(range(6), seed=2)
    restored.load_state_dict(sampler.state_dict())

    assert restored.stage == 2
    assert restored.epoch_indices == sampler.epoch_indices == [0, 1, 2, 3, 4, 5, 1, 4]
    assert list(restored) == list(sampler)


def test_replicas_default_to_one_process_without_a_process_group():
    sampler = HardExampleSampler(range(5))
    assert (sampler.num_replicas, sampler.rank) == (1, 0)
    with pytest.raises(ValueError, match="rank must be an integer in \\[0, 1\\]"):
        HardExampleSampler(range(5), num_replicas=2, rank=2)
