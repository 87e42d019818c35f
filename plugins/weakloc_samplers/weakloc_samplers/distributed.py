"""Rank bookkeeping shared by the samplers and their handlers.

Every sampler of this plugin follows the layout of ``torch.utils.data.DistributedSampler``: one draw per epoch,
made identically on every rank from a generator seeded with ``seed + epoch``, of which rank ``r`` keeps the
elements ``r, r + R, r + 2R, ...`` (``R`` replicas). The handlers score a dataset in the same layout (rank ``r``
scores items ``r, r + R, ...`` of the dataset, padded by wrapping around to a multiple of ``R``) and gather the
shares back into dataset order, so that every rank ends with the same scores.
"""

from __future__ import annotations

import math

import ignite.distributed as idist
import torch
import torch.distributed as dist

__all__ = ["resolve_replicas", "epoch_generator", "rank_share_positions", "gather_rank_shares"]


def resolve_replicas(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    """Fill in the number of replicas and this process's rank.

    Unlike ``torch.utils.data.DistributedSampler``, which raises when no process group is initialised, a missing
    value defaults to the process group's when one is initialised and to a single replica (rank 0) otherwise.

    Args:
        num_replicas: number of processes sharing each epoch's draw, or ``None``.
        rank: this process's rank in ``[0, num_replicas)``, or ``None``.

    Returns:
        ``(num_replicas, rank)``.

    Raises:
        ValueError: if ``num_replicas`` is below 1 or ``rank`` lies outside ``[0, num_replicas)``.
    """
    initialised = dist.is_available() and dist.is_initialized()
    if num_replicas is None:
        num_replicas = dist.get_world_size() if initialised else 1
    if rank is None:
        rank = dist.get_rank() if initialised else 0
    if isinstance(num_replicas, bool) or not isinstance(num_replicas, int) or num_replicas < 1:
        raise ValueError(f"num_replicas must be a positive integer, got {num_replicas!r}")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < num_replicas:
        raise ValueError(
            f"rank must be an integer in [0, {num_replicas - 1}] for {num_replicas} replicas, got {rank!r}"
        )
    return num_replicas, rank


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of one epoch's draw: seeded with ``seed + epoch``, as ``DistributedSampler`` does.

    Args:
        seed: the sampler's seed, identical on every rank.
        epoch: the epoch set by ``set_epoch``.

    Returns:
        a CPU ``torch.Generator``.
    """
    generator = torch.Generator()
    generator.manual_seed(seed + epoch)
    return generator


def rank_share_positions(num_items: int, num_replicas: int, rank: int) -> list[int]:
    """Positions ``0..num_items-1`` that ``rank`` handles, in ``DistributedSampler(shuffle=False)`` layout.

    The positions are padded by wrapping around to ``ceil(num_items / num_replicas) * num_replicas`` and rank ``r``
    takes every ``num_replicas``-th one starting at ``r``, so every rank gets the same count.

    Args:
        num_items: number of items to share out (at least 1).
        num_replicas: number of ranks.
        rank: this rank.

    Returns:
        ``ceil(num_items / num_replicas)`` positions.

    Raises:
        ValueError: if there is nothing to share out.
    """
    if num_items < 1:
        raise ValueError(f"cannot share out {num_items} items across {num_replicas} ranks")
    share = math.ceil(num_items / num_replicas)
    padded = [position % num_items for position in range(share * num_replicas)]
    return padded[rank::num_replicas]


def gather_rank_shares(local: torch.Tensor, num_items: int) -> torch.Tensor:
    """Gather every rank's share (``rank_share_positions`` layout) back into dataset order.

    Uses ``ignite.distributed.all_gather`` when a process group is running; in a single process ``local`` already
    holds every item.

    Args:
        local: this rank's results, shape (ceil(num_items / world_size), ...), row ``i`` for position
            ``rank_share_positions(num_items, world_size, rank)[i]``.
        num_items: number of items in dataset order.

    Returns:
        shape (num_items, ...), identical on every rank.

    Raises:
        ValueError: if ``local`` does not hold one row per position of this rank's share.
    """
    world_size, rank = idist.get_world_size(), idist.get_rank()
    share = math.ceil(num_items / world_size)
    if local.shape[0] != share:
        raise ValueError(
            f"rank {rank} holds {local.shape[0]} results, expected {share} for {num_items} items over "
            f"{world_size} ranks (a sequential loader, or DistributedSampler(shuffle=False) with padding)"
        )
    if world_size == 1:
        return local
    gathered = idist.all_gather(local.contiguous())
    ordered = torch.empty((num_items, *local.shape[1:]), dtype=local.dtype, device=local.device)
    for source_rank in range(world_size):
        positions = torch.as_tensor(rank_share_positions(num_items, world_size, source_rank), device=local.device)
        ordered[positions] = gathered[source_rank * share : (source_rank + 1) * share]
    return ordered
