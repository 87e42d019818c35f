"""Two gloo processes: the samplers take their replicas from the process group and every rank mines the same B."""

from __future__ import annotations

import math
from pathlib import Path

import ignite.distributed as idist
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from weakloc_samplers.distributed import gather_rank_shares, rank_share_positions
from weakloc_samplers.handlers import HardExampleMiningHandler, SelectiveRescoreHandler
from weakloc_samplers.hard_example import HardExampleSampler, find_hard_examples
from weakloc_samplers.selective import SelectiveSampler

WORLD_SIZE = 2
SIZE = 7  # odd, so that the ranks' shares are padded


def dataset() -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(SIZE, 1, 4, 4, generator=generator)
    labels = (torch.rand(SIZE, 2, generator=generator) > 0.4).float()
    return [{"image": images[index], "label": labels[index]} for index in range(SIZE)]


def network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 2))


def run_rank(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    try:
        data, model = dataset(), network()
        hard_sampler = HardExampleSampler(data, seed=3)
        hard = HardExampleMiningHandler(hard_sampler, network=model, batch_size=2).mine()
        selective_sampler = SelectiveSampler(range(SIZE), seed=3)
        losses = SelectiveRescoreHandler(
            selective_sampler, model, data, nn.BCEWithLogitsLoss(reduction="none"), batch_size=2
        ).rescore()
        own_positions = torch.tensor(rank_share_positions(SIZE, WORLD_SIZE, rank))
        torch.save(
            {
                "ignite_world_size": idist.get_world_size(),
                "gathered_positions": gather_rank_shares(own_positions, SIZE),
                "replicas": (hard_sampler.num_replicas, hard_sampler.rank),
                "hard_indices": hard.indices,
                "share": list(hard_sampler),
                "losses": losses,
                "selective_share": list(selective_sampler),
            },
            Path(out_dir) / f"rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def test_two_ranks_agree_on_scores_and_split_each_draw(tmp_path):
    mp.start_processes(
        run_rank, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD_SIZE, join=True, start_method="spawn"
    )
    results = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]

    data, model = dataset(), network()
    images = torch.stack([item["image"] for item in data])
    labels = torch.stack([item["label"] for item in data])
    with torch.no_grad():
        logits = model(images)
    reference_hard = find_hard_examples(torch.sigmoid(logits), labels)
    reference_losses = nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(dim=1)

    stage_two_size = SIZE + len(reference_hard)
    for rank, result in enumerate(results):
        assert result["ignite_world_size"] == WORLD_SIZE
        assert result["gathered_positions"].tolist() == list(range(SIZE))
        assert result["replicas"] == (WORLD_SIZE, rank)
        assert result["hard_indices"].tolist() == reference_hard.indices.tolist()
        assert torch.allclose(result["losses"], reference_losses, atol=1e-6)
        assert len(result["share"]) == math.ceil(stage_two_size / WORLD_SIZE)
    single = HardExampleSampler(data, seed=3)
    single.set_hard_examples(reference_hard)
    interleaved = [index for pair in zip(results[0]["share"], results[1]["share"]) for index in pair]
    assert interleaved[:stage_two_size] == list(single)
    selective = [index for pair in zip(results[0]["selective_share"], results[1]["selective_share"]) for index in pair]
    reference_selective = SelectiveSampler(range(SIZE), num_samples=2 * math.ceil(SIZE / 2), seed=3)
    reference_selective.scored_pool.set_losses(reference_losses)
    assert selective == reference_selective.draw_epoch()
