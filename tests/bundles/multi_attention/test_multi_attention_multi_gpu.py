"""multi_attention multi_gpu_train.json: two processes on CPU (gloo) train data-parallel, rank 0 alone writes.

The hard-example sampler shares out the training set A in stage one and C = A + B (B, the hard examples, listed
twice) in stage two, as ``monai.data.DistributedSampler`` does; the mining evaluator scores each rank's share of A
and gathers the shares, so every rank mines the same B. The test runs stage one for one epoch and stage two for
two, and checks from the ids each rank recorded that every index of A (stage one) and of C (stage two) was seen
once per epoch across the ranks, with the B that the checkpoint saved.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser
from monai.data import MetaTensor
from weakloc_samplers.hard_example import HardExampleSampler, HardExampleSet

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "multi_attention" / "configs"
RANK_ZERO_ONLY_HANDLERS = {
    "AtomicCheckpointSaver", "BestModelSaver", "EngineProgress", "StatsHandler", "TensorBoardStatsHandler"
}
WORLD_SIZE = 2
EPOCHS = 3
STAGE_TWO_EPOCH = 2
BATCH_SIZE = 4
# every setting that shapes the run, so that the test does not depend on quick.json's tuning: 48 synthetic images
# at 72 px (64 px crops), a 4-wide SE-ResNet with one block a stage, stage two from epoch 2
TINY = {
    "synthetic": {"num_images": 48, "image_size": 72, "seed": 0},
    "image_size": 72,
    "crop_size": 64,
    "max_translation": 4,
    "batch_size": BATCH_SIZE,
    "num_workers": 0,
    "max_epochs": EPOCHS,
    "backbone": {
        "layers": [1, 1, 1, 1],
        "width": 4,
        "feature_attention": True,
        "space_attention": True,
        "pooling": "after",
        "pretrained_weights": None,
    },
    "hard_examples": {"enabled": True, "stage_two_epoch": STAGE_TWO_EPOCH, "threshold": 0.5},
}
HARD_LINE = re.compile(r"hard examples: (\d+) of (\d+) samples .*; stage two samples (\d+) per epoch")


def handler_name(handler: dict) -> str:
    return handler["_target_"].rsplit(".", 1)[-1]


def test_only_rank_zero_checkpoints_and_logs_and_every_sampler_is_shared_out():
    for files in ([CONFIGS / "train.json"], [CONFIGS / "train.json", CONFIGS / "multi_gpu_train.json"]):
        config = ConfigParser.load_config_files([str(f) for f in files])
        for section in ("train", "validate"):
            names = [handler_name(h) for h in config[section]["handlers"]]
            assert RANK_ZERO_ONLY_HANDLERS & set(names), f"{section}#handlers has no rank-0-only handler"
            for handler, name in zip(config[section]["handlers"], names):
                assert ("_disabled_" in handler) == (name in RANK_ZERO_ONLY_HANDLERS), f"{section}#handlers: {name}"
                if "_disabled_" in handler:
                    assert handler["_disabled_"] == "$not @is_main_process", f"{section}#handlers: {name}"
    config = ConfigParser.load_config_files([str(CONFIGS / "train.json"), str(CONFIGS / "multi_gpu_train.json")])
    recorders = [h for h in config["train"]["handlers"] if handler_name(h) == "SeenSamplesRecorder"]
    assert len(recorders) == 1 and "_disabled_" not in recorders[0]
    # the trainer keeps the hard-example sampler, shared out by rank; mining and validation split their sets
    assert config["train"]["sampler"]["name"] == "hard_example"
    assert config["train"]["dataloader"]["sampler"] == "@train#sampler"
    for section in ("mining", "validate"):
        assert config[section]["sampler"]["_target_"] == "monai.data.DistributedSampler", section
        assert config[section]["sampler"]["shuffle"] is False, section
        assert config[section]["dataloader"]["sampler"] == f"@{section}#sampler", section
    # the mining sampler pads, so that every rank scores ceil(|A| / R) samples: what gather_rank_shares expects
    assert config["mining"]["sampler"]["even_divisible"] is True


def test_mined_pairs_are_plain_tensors_that_load_with_weights_only(tmp_path):
    """The mining evaluator's outputs are MetaTensors; the hard examples it yields are plain tensors."""
    from ignite.engine import Engine
    from weakloc_samplers.handlers import HardExampleMiningHandler

    class Evaluator(Engine):
        def __init__(self) -> None:
            logits = MetaTensor(torch.tensor([[-3.0, 3.0], [3.0, -3.0]]))
            super().__init__(lambda engine, batch: {"pred": logits, "label": torch.eye(2)})

        def run(self) -> None:  # as a SupervisedEvaluator: its own data
            super().run([0], max_epochs=1)

    sampler = HardExampleSampler(range(2), shuffle=False)
    handler = HardExampleMiningHandler(
        sampler, evaluator=Evaluator(), output_transform=lambda output: (output["pred"], output["label"])
    )
    hard = handler.mine()
    assert hard.indices.tolist() == [0, 1]
    assert type(hard.indices) is torch.Tensor and type(hard.hard_labels) is torch.Tensor
    torch.save(sampler.state_dict(), tmp_path / "sampler.pt")
    state = torch.load(tmp_path / "sampler.pt", weights_only=True)
    assert state["hard_indices"].tolist() == [0, 1]


def expected_shares(hard: HardExampleSet | None, size: int, epoch: int, seed: int) -> list[list[int]]:
    """The dataset indices each rank draws in ``epoch``: the bundle's sampler, rebuilt with the saved stage."""
    shares = []
    for rank in range(WORLD_SIZE):
        sampler = HardExampleSampler(range(size), shuffle=True, seed=seed, num_replicas=WORLD_SIZE, rank=rank)
        if hard is not None:
            sampler.set_hard_examples(hard)
        sampler.set_epoch(epoch)
        shares.append(list(sampler))
    return shares


@pytest.mark.slow
def test_two_processes_train_and_see_every_index_of_a_and_then_c_once_per_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    bundle_root = tmp_path / "run"
    files = [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json"), str(tiny), str(CONFIGS / "multi_gpu_train.json")]
    # --tee 3 prefixes each output line with the local rank: [default0]: or [default1]:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={WORLD_SIZE}",
        "--tee",
        "3",
        "-m",
        "monai.bundle",
        "run",
        "training",
        "--config_file",
        repr(files),
        "--bundle_root",
        str(bundle_root),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    single = ConfigParser()
    single.read_config(files[:3])
    single["bundle_root"] = str(bundle_root)
    train_ids = [record["id"] for record in single.get_parsed_content("train#records")]  # dataset index -> id
    size = len(train_ids)
    ckpt_dir, output_dir = bundle_root / "models", bundle_root / "outputs"

    # both ranks mined the same B; the checkpoint holds it
    rank_lines = {
        rank: [line for line in done.stdout.splitlines() if line.startswith(f"[default{rank}]:")]
        for rank in range(WORLD_SIZE)
    }
    mined = {
        rank: [HARD_LINE.search(line).groups() for line in rank_lines[rank] if HARD_LINE.search(line)]
        for rank in range(WORLD_SIZE)
    }
    assert len(mined[0]) == 1 and mined[0] == mined[1], mined
    num_hard, num_a, num_c = (int(n) for n in mined[0][0])
    assert num_a == size and num_c == size + num_hard and num_hard > 0

    checkpoints = sorted(ckpt_dir.glob("checkpoint_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    stage_one_length = math.ceil(math.ceil(size / WORLD_SIZE) / BATCH_SIZE)
    stage_two_length = math.ceil(math.ceil(num_c / WORLD_SIZE) / BATCH_SIZE)
    iterations = stage_one_length * (STAGE_TWO_EPOCH - 1) + stage_two_length * (EPOCHS - STAGE_TWO_EPOCH + 1)
    assert checkpoints[-1].name == f"checkpoint_{iterations}.pt"
    state = torch.load(checkpoints[-1], weights_only=True)
    assert set(state) == {"network", "optimizer", "lr_scheduler", "sampler", "epoch_record", "trainer"}
    assert state["trainer"]["iteration"] == iterations
    assert state["trainer"]["epoch_length"] == stage_two_length
    assert state["epoch_record"] == {"epoch": EPOCHS, "iterations_in_epoch": 0}
    hard = HardExampleSet(indices=state["sampler"]["hard_indices"], hard_labels=state["sampler"]["hard_labels"])
    assert len(hard) == num_hard and hard.hard_labels.shape == (num_hard, single.get_parsed_content("num_classes"))
    # the checkpoints hold the unwrapped network: a single-process network loads them as they are
    network = single.get_parsed_content("network_def")
    network.load_state_dict(state["network"])
    network.load_state_dict(torch.load(ckpt_dir / "model.pt", weights_only=True))

    seen = [
        json.loads((output_dir / "seen_samples" / f"seen_samples_rank{rank}.json").read_text())
        for rank in range(WORLD_SIZE)
    ]
    assert sorted(seen[0]) == sorted(seen[1]) == [str(e) for e in range(1, EPOCHS + 1)]
    for epoch in range(1, EPOCHS + 1):
        stage_two = epoch >= STAGE_TWO_EPOCH
        indices = list(range(size)) + (hard.indices.tolist() if stage_two else [])  # A, or C = A + B
        wanted = Counter(train_ids[i] for i in indices)
        # each rank drew its share of the epoch's permutation, as the sampler with the saved stage draws it
        shares = expected_shares(hard if stage_two else None, size, epoch, single["seed"])
        for rank in range(WORLD_SIZE):
            assert seen[rank][str(epoch)] == [train_ids[i] for i in shares[rank]], f"epoch {epoch}, rank {rank}"
        # across the ranks, every index of A or C once (hard samples twice: they are in C twice), plus the
        # padding DistributedSampler adds to even out the shares, at most WORLD_SIZE - 1 repeats
        together = Counter(seen[0][str(epoch)] + seen[1][str(epoch)])
        assert not wanted - together, f"epoch {epoch}: unseen {wanted - together}"
        assert sum((together - wanted).values()) == WORLD_SIZE * math.ceil(len(indices) / WORLD_SIZE) - len(indices)
    assert seen[0]["2"] != seen[0]["3"]  # the sampler reshuffles every epoch

    # rank 0 alone logged the epochs and metrics and saved the models (train.json's StatsHandler logs no
    # train_loss: its output_transform gives a 1-tuple, which StatsHandler ignores as non-scalar)
    for marker in ("val_auc:", "saved ", "SupervisedTrainer - INFO - Epoch[1] Complete"):
        assert any(marker in line for line in rank_lines[0]), marker
        assert not any(marker in line for line in rank_lines[1]), marker
