"""Per-sample values of a network over a dataset (scores, losses), the work behind the sampler handlers.

MONAI's ``SupervisedEvaluator`` runs a network over a loader but keeps no per-sample results in dataset order,
and its loader would be sharded by whatever sampler it was given; the samplers need one value per dataset item,
identical on every rank. This module runs the network in eval mode without gradients over this rank's share of
the dataset (``DistributedSampler(shuffle=False)`` layout) and gathers the shares back into dataset order.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Any

import ignite.distributed as idist
import torch
from monai.data import DataLoader
from monai.engines import default_prepare_batch
from torch import nn
from torch.utils.data import Dataset, Subset

from weakloc_samplers.distributed import gather_rank_shares, rank_share_positions

__all__ = ["network_device", "score_dataset"]


def network_device(network: nn.Module) -> torch.device:
    """The device of the network's first parameter, or the CPU for a network without parameters."""
    for parameter in network.parameters():
        return parameter.device
    return torch.device("cpu")


def score_dataset(
    network: nn.Module,
    dataset: Dataset,
    per_sample: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    batch_size: int = 32,
    prepare_batch: Callable[..., Any] = default_prepare_batch,
    device: torch.device | str | None = None,
    num_workers: int = 0,
) -> torch.Tensor:
    """Run ``network`` over every item of ``dataset`` and return one value row per item, in dataset order.

    The network runs in eval mode under ``torch.no_grad()`` and gets its previous mode back afterwards. Under
    a process group each rank runs its share and the shares are gathered, so every rank returns the same tensor.

    Args:
        network: the model; called on the inputs of a batch, returns outputs of shape (B, ...).
        dataset: a sized map-style dataset whose items ``prepare_batch`` understands after collation.
        per_sample: maps ``(outputs, targets)`` of a batch to values of shape (B, ...).
        batch_size: items per forward pass.
        prepare_batch: ``prepare_batch(batch, device) -> (inputs, targets)``, as
            ``monai.engines.default_prepare_batch``.
        device: where to run; defaults to the network's device.
        num_workers: data loader workers.

    Returns:
        shape (len(dataset), ...) on the network's device.

    Raises:
        ValueError: if the dataset is empty, or ``per_sample`` does not return one row per sample.
    """
    if not isinstance(dataset, Sized) or len(dataset) == 0:
        raise ValueError("score_dataset needs a non-empty sized dataset")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    num_items = len(dataset)
    positions = rank_share_positions(num_items, idist.get_world_size(), idist.get_rank())
    loader = DataLoader(Subset(dataset, positions), batch_size=batch_size, shuffle=False, num_workers=num_workers)
    device = network_device(network) if device is None else torch.device(device)
    was_training = network.training
    network.eval()
    rows: list[torch.Tensor] = []
    try:
        with torch.no_grad():
            for batch in loader:
                inputs, targets = prepare_batch(batch, device)
                values = per_sample(network(inputs), targets)
                if values.ndim == 0 or values.shape[0] != inputs.shape[0]:
                    raise ValueError(
                        f"per-sample values have shape {tuple(values.shape)} for a batch of {inputs.shape[0]}; "
                        "expected one row per sample (is the loss reduction 'none'?)"
                    )
                # a plain tensor: MONAI's MetaTensor inputs make the values MetaTensors, whose batched meta data
                # cannot be concatenated across ranks
                rows.append(torch.as_tensor(values.detach()).as_subclass(torch.Tensor))
    finally:
        network.train(was_training)
    return gather_rank_shares(torch.cat(rows), num_items)
