"""Data-parallel pieces for bundles launched with ``torchrun``: training and inference.

A bundle's ``multi_gpu_train.json`` and ``multi_gpu_inference.json`` (the MONAI model-zoo pattern) pick this
process's device with :func:`local_device`; training wraps the network with :func:`wrap_data_parallel`, and
inference's output writer merges every process's table rows on rank 0 with :func:`gather_to_main_process`.

The wrapper exists because ``torch.nn.parallel.DistributedDataParallel`` registers gradient all-reduce hooks
only on the parameters that require a gradient when it is built: a network built in a phase that freezes some
sub-networks (Zoom-in-Net starts in phase 1 with its A-Net and C-Net frozen) would later train those
sub-networks on every rank without ever averaging their gradients, and the ranks' weights would silently drift
apart. Inference needs no wrapper: no gradient is shared, each process runs its own images.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

__all__ = ["LOCAL_RANK_ENV", "gather_to_main_process", "is_main_process", "local_device", "wrap_data_parallel"]

LOCAL_RANK_ENV = "LOCAL_RANK"


def is_main_process() -> bool:
    """Whether this process is the one that saves checkpoints and writes logs and statistics.

    Returns:
        True without a process group (a single process) and on rank 0 of one; False on the other ranks.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return True
    return torch.distributed.get_rank() == 0


def gather_to_main_process(obj: Any, device: torch.device | None = None) -> list[Any] | None:
    """Every process's ``obj`` on rank 0, in rank order: a collective, every rank of the group must call it.

    ``torch.distributed.gather_object`` pickles the objects into byte tensors; under NCCL those tensors live
    on ``torch.cuda.current_device()``, which is ``cuda:0`` on every rank unless the process set it. With a
    CUDA ``device`` the gather runs with that device current, so that each rank sends from its own GPU
    rather than every rank from GPU 0 (NCCL refuses two ranks on one GPU). Gloo gathers on the CPU.

    Args:
        obj: any picklable object (e.g. this process's table rows).
        device: this process's device (see :func:`local_device`); ``None``: the current CUDA device.

    Returns:
        ``[obj]`` without a process group; on rank 0 of one, the objects of ranks 0..N-1; on the other
        ranks ``None``.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return [obj]
    rank = torch.distributed.get_rank()
    gathered: list[Any] | None = [None] * torch.distributed.get_world_size() if rank == 0 else None
    on_device = torch.cuda.device(device) if device is not None and device.type == "cuda" else contextlib.nullcontext()
    with on_device:
        torch.distributed.gather_object(obj, gathered, dst=0)
    return gathered


def local_device() -> torch.device:
    """This process's device: ``cuda:<LOCAL_RANK>`` when CUDA is present, else the CPU.

    Returns:
        the device of the local rank that ``torchrun`` set in ``$LOCAL_RANK``.

    Raises:
        ValueError: when CUDA is present and ``$LOCAL_RANK`` is unset or not an integer (the process was
            not launched with ``torchrun``).
    """
    if not torch.cuda.is_available():
        return torch.device("cpu")
    local_rank = os.environ.get(LOCAL_RANK_ENV, "")
    if not local_rank.isdigit():
        raise ValueError(
            f"${LOCAL_RANK_ENV} is {local_rank!r}: launch multi_gpu_train.json or multi_gpu_inference.json with "
            "torchrun (python -m torch.distributed.run), which sets it"
        )
    return torch.device(f"cuda:{local_rank}")


def wrap_data_parallel(module: nn.Module, device: torch.device, find_unused_parameters: bool = True) -> DistributedDataParallel:
    """Move ``module`` to ``device`` and wrap it in ``DistributedDataParallel``, every parameter included.

    Every parameter is made to require a gradient while the wrapper is built, so that it gets an
    all-reduce hook even if it is frozen now and unfrozen later (multi-phase training); the
    ``requires_grad`` flags are then restored. Parameters frozen at a given step produce no gradient and
    are skipped as unused, which needs ``find_unused_parameters=True``.

    Args:
        module: the network, unwrapped; checkpoints should save this object, not the wrapper.
        device: this process's device (see :func:`local_device`); ``device_ids`` is set for a CUDA device.
        find_unused_parameters: passed to ``DistributedDataParallel``.

    Returns:
        the wrapper; ``wrapper.module is module``.

    Raises:
        ValueError: when the default process group is not initialized.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        raise ValueError("wrap_data_parallel: initialize the process group (torch.distributed.init_process_group) first")
    module = module.to(device)
    requires_grad = [parameter.requires_grad for parameter in module.parameters()]
    module.requires_grad_(True)
    try:
        wrapper = DistributedDataParallel(
            module,
            device_ids=[device] if device.type == "cuda" else None,
            find_unused_parameters=find_unused_parameters,
        )
    finally:
        for parameter, flag in zip(module.parameters(), requires_grad):
            parameter.requires_grad_(flag)
    return wrapper
