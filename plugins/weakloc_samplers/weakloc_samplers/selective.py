"""Selective sampling (microaneurysm patch refinement network): draw samples in proportion to their last loss.

Each sample of a pool is drawn with probability ``(loss_i + floor) / sum_j (loss_j + floor)``; the floor keeps
every sample drawable, and before any loss is known the draw is uniform. ``SelectiveRescoreHandler`` refreshes
the losses every epoch or every k iterations.

Why not ``torch.utils.data.WeightedRandomSampler`` or ``monai.data.DistributedWeightedRandomSampler``: the
former has no rank sharding and no per-epoch seeding; the latter first splits the dataset across ranks and lets
each rank draw only from its own part (a high-loss sample can only ever be drawn by one rank, and each part is
normalised on its own), with a generator that is not reseeded per epoch. Both call ``torch.multinomial`` on
weights fixed when the epoch starts, so a mid-epoch rescoring would wait for the next epoch. Here the epoch's
random numbers are fixed by ``seed + epoch`` (identical on every rank, rank ``r`` taking every ``R``-th) and each
one is mapped through the inverse CDF of the probabilities current when its index is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from weakloc_samplers.distributed import epoch_generator, resolve_replicas

__all__ = ["LossWeightedPool", "SelectiveSampler"]


class LossWeightedPool:
    """Dataset indices with sampling probabilities proportional to each one's last loss plus a floor.

    Args:
        pool: dataset indices to draw from (non-empty, no repeats).
        floor: added to every loss before normalising, so a sample with zero loss keeps a chance (> 0).

    Raises:
        ValueError: if the pool is empty or repeats an index, or the floor is not positive and finite.
    """

    def __init__(self, pool: Sequence[int], floor: float = 1e-3) -> None:
        indices = torch.as_tensor(list(pool), dtype=torch.int64)
        if indices.numel() == 0:
            raise ValueError("a selective sampling pool needs at least one dataset index")
        if torch.unique(indices).numel() != indices.numel():
            raise ValueError("a selective sampling pool must not repeat a dataset index")
        if not (math.isfinite(floor) and floor > 0):
            raise ValueError(f"floor must be positive and finite, got {floor}")
        self.floor = float(floor)
        self._indices = indices
        self._losses: torch.Tensor | None = None
        self._revision = 0
        self._cumulative = torch.arange(1, indices.numel() + 1, dtype=torch.float64)

    @property
    def pool(self) -> list[int]:
        """The dataset indices of the pool, in pool order."""
        return self._indices.tolist()

    def __len__(self) -> int:
        return int(self._indices.numel())

    @property
    def revision(self) -> int:
        """How many times the losses were set; a draw resolved at an older revision is out of date."""
        return self._revision

    @property
    def losses(self) -> torch.Tensor | None:
        """The last losses, shape (len(pool),), float64; ``None`` until set (uniform sampling)."""
        return None if self._losses is None else self._losses.clone()

    @property
    def probabilities(self) -> torch.Tensor:
        """Probability of drawing each pool entry, shape (len(pool),), float64, summing to 1."""
        if self._losses is None:
            return torch.full((len(self),), 1.0 / len(self), dtype=torch.float64)
        weights = self._losses + self.floor
        return weights / weights.sum()

    def set_losses(self, losses: torch.Tensor | Sequence[float]) -> None:
        """Replace every sample's loss; draws made from now on follow the new probabilities.

        Args:
            losses: one non-negative finite loss per pool entry, shape (len(pool),), in pool order.

        Raises:
            ValueError: on a wrong shape, or a negative or non-finite loss (naming the dataset index).
        """
        values = torch.as_tensor(losses).detach().to(device="cpu", dtype=torch.float64).flatten()
        if values.numel() != len(self):
            raise ValueError(f"got {values.numel()} losses for a pool of {len(self)} samples")
        invalid = (~(torch.isfinite(values) & (values >= 0))).nonzero().flatten()
        if invalid.numel() > 0:
            position = int(invalid[0])
            raise ValueError(
                f"loss {values[position].item()} of dataset index {int(self._indices[position])} "
                f"(pool position {position}) is not a non-negative finite number"
            )
        self._losses = values
        self._cumulative = torch.cumsum(values + self.floor, dim=0)
        self._revision += 1

    def indices_at(self, uniforms: torch.Tensor) -> torch.Tensor:
        """Map random numbers in [0, 1) to dataset indices through the inverse CDF of the current probabilities.

        Args:
            uniforms: uniform random numbers in [0, 1), any shape.

        Returns:
            dataset indices of the same shape, int64.
        """
        targets = uniforms.to(torch.float64) * self._cumulative[-1]
        positions = torch.searchsorted(self._cumulative, targets, right=True).clamp(max=len(self) - 1)
        return self._indices[positions]


class SelectiveSampler(Sampler[int]):
    """Sampler drawing, with replacement, from a pool in proportion to each sample's last loss plus a floor.

    Each epoch draws ``num_samples_per_rank * R`` samples; the random numbers come from a generator seeded with
    ``seed + epoch`` on every rank and rank ``r`` keeps every ``R``-th, so the ranks' shares are disjoint parts of
    one draw. Indices not yet yielded are resolved again whenever the losses change, so losses set mid-epoch steer
    the rest of the epoch.

    Args:
        pool: dataset indices to draw from.
        num_samples: samples drawn per epoch across all ranks; defaults to ``len(pool)``.
        floor: added to every loss (see :class:`LossWeightedPool`).
        seed: seed of the draw, identical on every rank.
        num_replicas: number of ranks; defaults to the process group's size, else 1.
        rank: this rank; defaults to the process group's rank, else 0.

    Raises:
        ValueError: on an empty pool, a non-positive ``num_samples`` or invalid replica settings.
    """

    def __init__(
        self,
        pool: Sequence[int],
        num_samples: int | None = None,
        floor: float = 1e-3,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        self.scored_pool = LossWeightedPool(pool, floor)
        total = len(self.scored_pool) if num_samples is None else num_samples
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
        self.num_replicas, self.rank = resolve_replicas(num_replicas, rank)
        self.num_samples_per_rank = math.ceil(total / self.num_replicas)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch whose random numbers the next ``iter()`` uses."""
        self.epoch = epoch

    def _epoch_uniforms(self) -> torch.Tensor:
        total = self.num_samples_per_rank * self.num_replicas
        return torch.rand(total, generator=epoch_generator(self.seed, self.epoch), dtype=torch.float64)

    def draw_epoch(self) -> list[int]:
        """The current epoch's whole draw (every rank's share interleaved) under the current probabilities."""
        return self.scored_pool.indices_at(self._epoch_uniforms()).tolist()

    def __iter__(self) -> Iterator[int]:
        uniforms = self._epoch_uniforms()[self.rank :: self.num_replicas]
        resolved_revision = -1
        indices: list[int] = []
        for position in range(uniforms.numel()):
            if self.scored_pool.revision != resolved_revision:
                resolved_revision = self.scored_pool.revision
                indices = self.scored_pool.indices_at(uniforms).tolist()
            yield indices[position]

    def __len__(self) -> int:
        return self.num_samples_per_rank
