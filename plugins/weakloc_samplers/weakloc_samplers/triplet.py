"""Triplet batches for the microaneurysm patch refinement network's triplet loss.

Anchor and positive are two different lesion samples drawn uniformly from the lesion pool; the negative is a
healthy sample drawn by selective sampling (in proportion to its last loss plus a floor, see
:class:`weakloc_samplers.selective.LossWeightedPool`). ``torch.utils.data`` has no triplet batch sampler, and
``BatchSampler`` over a single sampler cannot draw from two pools with two rules, hence this class.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from weakloc_samplers.distributed import epoch_generator, resolve_replicas
from weakloc_samplers.selective import LossWeightedPool

__all__ = ["TripletBatchSampler"]


class TripletBatchSampler(Sampler[list[int]]):
    """Batch sampler yielding batches of ``T`` (anchor, positive, negative) index triplets.

    Each batch is the list ``[a_1..a_T, p_1..p_T, n_1..n_T]`` of dataset indices (anchors, then positives, then
    negatives), so a collated batch of size 3T splits with ``torch.chunk(batch, 3)``; with ``T = 1`` it is one
    index triplet. Use it as ``DataLoader(dataset, batch_sampler=...)``.

    Each epoch draws ``num_batches_per_rank * R`` batches with a generator seeded with ``seed + epoch`` on every
    rank; rank ``r`` keeps batches ``r, r + R, ...``. Negatives are resolved when their batch is yielded, so
    losses set mid-epoch on :attr:`scored_pool` steer the rest of the epoch. Call ``set_epoch`` every epoch
    (``SelectiveRescoreHandler`` does).

    Args:
        lesion_pool: dataset indices of lesion samples (at least two), source of anchors and positives.
        healthy_pool: dataset indices of healthy samples (at least one), source of negatives.
        triplets_per_batch: triplets per batch ``T``.
        num_batches: batches per epoch across all ranks; defaults to ``ceil(len(lesion_pool) / T)``, one anchor
            per lesion sample on average.
        floor: added to every healthy sample's loss (see :class:`LossWeightedPool`).
        seed: seed of the draw, identical on every rank.
        num_replicas: number of ranks; defaults to the process group's size, else 1.
        rank: this rank; defaults to the process group's rank, else 0.

    Raises:
        ValueError: on a pool too small, an index in both pools, a non-positive count or invalid replica settings.
    """

    def __init__(
        self,
        lesion_pool: Sequence[int],
        healthy_pool: Sequence[int],
        triplets_per_batch: int = 1,
        num_batches: int | None = None,
        floor: float = 1e-3,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        lesion_indices = torch.as_tensor(list(lesion_pool), dtype=torch.int64)
        if lesion_indices.numel() < 2:
            raise ValueError(
                f"the lesion pool needs at least two samples for anchor and positive, got {lesion_indices.numel()}"
            )
        if torch.unique(lesion_indices).numel() != lesion_indices.numel():
            raise ValueError("the lesion pool must not repeat a dataset index")
        shared = sorted(set(lesion_indices.tolist()) & {int(index) for index in healthy_pool})
        if shared:
            raise ValueError(f"dataset index {shared[0]} is in both the lesion pool and the healthy pool")
        if isinstance(triplets_per_batch, bool) or not isinstance(triplets_per_batch, int) or triplets_per_batch < 1:
            raise ValueError(f"triplets_per_batch must be a positive integer, got {triplets_per_batch!r}")
        total = math.ceil(lesion_indices.numel() / triplets_per_batch) if num_batches is None else num_batches
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ValueError(f"num_batches must be a positive integer, got {num_batches!r}")
        self.scored_pool = LossWeightedPool(healthy_pool, floor)
        self.triplets_per_batch = triplets_per_batch
        self.num_replicas, self.rank = resolve_replicas(num_replicas, rank)
        self.num_batches_per_rank = math.ceil(total / self.num_replicas)
        self.seed = seed
        self.epoch = 0
        self._lesion_indices = lesion_indices

    @property
    def lesion_pool(self) -> list[int]:
        """Dataset indices of the lesion samples."""
        return self._lesion_indices.tolist()

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch whose draw the next ``iter()`` makes."""
        self.epoch = epoch

    def _epoch_numbers(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Anchors and positives (dataset indices) and negatives' random numbers, each (batches, T)."""
        shape = (self.num_batches_per_rank * self.num_replicas, self.triplets_per_batch)
        generator = epoch_generator(self.seed, self.epoch)
        num_lesions = self._lesion_indices.numel()
        anchor_positions = torch.randint(0, num_lesions, shape, generator=generator)
        positive_offsets = torch.randint(1, num_lesions, shape, generator=generator)
        negative_uniforms = torch.rand(shape, generator=generator, dtype=torch.float64)
        anchors = self._lesion_indices[anchor_positions]
        positives = self._lesion_indices[(anchor_positions + positive_offsets) % num_lesions]
        return anchors, positives, negative_uniforms

    def _batch(self, anchors: torch.Tensor, positives: torch.Tensor, negative_uniforms: torch.Tensor) -> list[int]:
        negatives = self.scored_pool.indices_at(negative_uniforms)
        return torch.cat([anchors, positives, negatives]).tolist()

    def draw_epoch(self) -> list[list[int]]:
        """The current epoch's whole draw (every rank's batches interleaved) under the current probabilities."""
        anchors, positives, negative_uniforms = self._epoch_numbers()
        return [self._batch(*batch) for batch in zip(anchors, positives, negative_uniforms)]

    def __iter__(self) -> Iterator[list[int]]:
        anchors, positives, negative_uniforms = self._epoch_numbers()
        for batch in range(self.rank, anchors.shape[0], self.num_replicas):
            yield self._batch(anchors[batch], positives[batch], negative_uniforms[batch])

    def __len__(self) -> int:
        return self.num_batches_per_rank
