"""Data-parallel training pieces for bundles launched with ``torchrun``.

A bundle's ``multi_gpu_train.json`` (the MONAI model-zoo pattern) picks this process's device with
:func:`local_device` and wraps the network with :func:`wrap_data_parallel`. The wrapper exists because
``torch.nn.parallel.DistributedDataParallel`` registers gradient all-reduce hooks only on the parameters
that require a gradient when it is built: a network built in a phase that freezes some sub-networks
(Zoom-in-Net starts in phase 1 with its A-Net and C-Net frozen) would later train those sub-networks on
every rank without ever averaging their gradients, and the ranks' weights would silently drift apart.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

__all__ = ["LOCAL_RANK_ENV", "is_main_process", "local_device", "wrap_data_parallel"]

LOCAL_RANK_ENV = "LOCAL_RANK"


def is_main_process() -> bool:
    """Whether this process is the one that saves checkpoints and writes logs and statistics.

    Returns:
        True without a process group (a single process) and on rank 0 of one; False on the other ranks.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return True
    return torch.distributed.get_rank() == 0


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
            f"${LOCAL_RANK_ENV} is {local_rank!r}: launch multi_gpu_train.json with "
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
