"""Data-parallel helpers: the local device, and a DDP wrapper that keeps later-unfrozen layers in sync."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from monai_weakloc.engines.distributed import is_main_process, local_device, wrap_data_parallel

# two ranks train a two-layer network whose second layer is frozen when it is wrapped and unfrozen
# afterwards (as a phase switch does); each rank sees different data and writes its final weights
TRAIN_TWO_PHASES = textwrap.dedent(
    """
    import gc, json, sys
    import torch, torch.distributed as dist
    from torch import nn
    from monai_weakloc.engines.distributed import is_main_process, wrap_data_parallel

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    network = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
    network[1].requires_grad_(False)
    wrapper = wrap_data_parallel(network, torch.device("cpu"))
    flags_after_wrapping = [p.requires_grad for p in network.parameters()]
    optimizer = torch.optim.SGD(network.parameters(), lr=0.1)
    torch.manual_seed(1 + rank)
    for phase_frozen in (True, False):
        network[1].requires_grad_(not phase_frozen)
        for _ in range(2):
            optimizer.zero_grad()
            wrapper(torch.randn(4, 3)).square().mean().backward()
            optimizer.step()
    result = {
        "flags": flags_after_wrapping,
        "weights": [p.tolist() for p in network.parameters()],
        "main": is_main_process(),
    }
    with open(f"{sys.argv[1]}/rank{rank}.json", "w") as f:
        json.dump(result, f)
    # the wrapper sits in reference cycles: collected after the group is destroyed, its reducer may abort the
    # process ("terminate called without an active exception"), so it goes first
    del wrapper
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()
    """
)


@pytest.mark.slow
def test_layers_unfrozen_after_wrapping_stay_identical_across_ranks(tmp_path):
    # plain DistributedDataParallel built while the layer is frozen never averages its gradients: the
    # ranks' copies of that layer end up different
    script = tmp_path / "train.py"
    script.write_text(TRAIN_TWO_PHASES)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(script), str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1))
    assert rank0["flags"] == [True, True, False, False]  # the frozen layer is frozen again after wrapping
    assert rank0["weights"] == rank1["weights"]
    assert rank0["main"] and not rank1["main"]  # rank 0 alone saves and logs


def test_a_single_process_is_the_main_process():
    assert not torch.distributed.is_initialized()
    assert is_main_process()


def test_only_rank_0_of_a_process_group_is_the_main_process(monkeypatch):
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 0)
    assert is_main_process()
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    assert not is_main_process()


def test_wrapping_without_a_process_group_names_the_missing_step():
    with pytest.raises(ValueError, match="init_process_group"):
        wrap_data_parallel(nn.Linear(2, 2), torch.device("cpu"))


def test_local_device_is_the_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert local_device() == torch.device("cpu")


def test_local_device_is_the_local_rank_gpu_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert local_device() == torch.device("cuda:1")
    monkeypatch.delenv("LOCAL_RANK")
    with pytest.raises(ValueError, match="torchrun"):
        local_device()
