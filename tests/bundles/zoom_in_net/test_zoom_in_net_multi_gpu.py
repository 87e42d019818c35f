"""zoom_in_net multi_gpu_train.json: two processes on CPU (gloo) train the bundle data-parallel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

from monai_weakloc.data import pair_fellow_eyes, read_eyepacs
from monai_weakloc.data.cache import synthetic_dataset_dir

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "zoom_in_net" / "configs"
RANK_ZERO_ONLY_HANDLERS = {
    "AtomicCheckpointSaver", "BestModelSaver", "EngineProgress", "StatsHandler", "TensorBoardStatsHandler"
}
# 24 synthetic images give 14 training images: 7 per rank, so DistributedSampler pads nothing
TINY = {"synthetic": {"num_images": 24, "image_size": 128, "seed": 0}, "phase_epochs": [1, 0, 1],
        "low_res": 96, "high_res": 128, "region_size": 40, "crop_size": 64, "batch_size": 4}


def config_files(*extra: str | Path) -> list[str]:
    return [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json"), *map(str, extra)]


def test_only_rank_zero_checkpoints_and_logs_and_every_rank_records_its_samples():
    config = ConfigParser.load_config_files([str(CONFIGS / "train.json"), str(CONFIGS / "multi_gpu_train.json")])
    for section in ("train", "validate"):
        handlers = config[section]["handlers"]
        for handler in handlers:
            name = handler["_target_"].rsplit(".", 1)[-1]
            assert ("_disabled_" in handler) == (name in RANK_ZERO_ONLY_HANDLERS), f"{section}#handlers: {name}"
    recorders = [h for h in config["train"]["handlers"] if h["_target_"].endswith(".SeenSamplesRecorder")]
    assert len(recorders) == 1 and "_disabled_" not in recorders[0]


@pytest.mark.slow
def test_two_processes_train_and_see_every_sample_once_per_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    bundle_root = tmp_path / "run"
    files = config_files(tiny, CONFIGS / "multi_gpu_train.json")
    # --tee 3 prefixes each output line with the local rank: [default0]: or [default1]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--tee", "3",
               "-m", "monai.bundle", "run", "training", "--config_file", repr(files), "--bundle_root", str(bundle_root)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    ckpt_dir, output_dir = bundle_root / "models", bundle_root / "outputs"
    checkpoints = sorted(ckpt_dir.glob("checkpoint_*.pt"))
    assert checkpoints
    state = torch.load(checkpoints[-1], weights_only=True)
    # each rank ran ceil(7 / 4) = 2 iterations per epoch over its half of the 14 training images
    assert state["trainer"]["epoch_length"] == 2 and state["trainer"]["iteration"] == 2 * sum(TINY["phase_epochs"])

    # the checkpoints hold the unwrapped network: a single-process network loads them as they are
    single = ConfigParser()
    single.read_config(config_files(tiny))
    network = single.get_parsed_content("network_def")
    network.load_state_dict(torch.load(ckpt_dir / "model.pt", weights_only=True))
    network.load_state_dict(state["network"])

    dataset_dir = synthetic_dataset_dir("eyepacs", **TINY["synthetic"])
    train_ids = sorted(record["id"] for record in pair_fellow_eyes(read_eyepacs(dataset_dir, splits="train")))
    seen = [json.loads((output_dir / f"seen_samples_rank{rank}.json").read_text()) for rank in (0, 1)]
    assert sorted(seen[0]) == sorted(seen[1]) == [str(e) for e in range(1, sum(TINY["phase_epochs"]) + 1)]
    for epoch in seen[0]:
        assert len(seen[0][epoch]) == len(seen[1][epoch]) == len(train_ids) // 2
        assert sorted(seen[0][epoch] + seen[1][epoch]) == train_ids, f"epoch {epoch}"

    # rank 0 alone logged the metrics, saved the model and wrote TensorBoard (event files are named
    # events.out.tfevents.<time>.<host>.<pid>.<n>)
    rank_lines = {rank: [line for line in done.stdout.splitlines() if line.startswith(f"[default{rank}]:")] for rank in (0, 1)}
    for marker in ("val_kappa", "saved "):
        assert any(marker in line for line in rank_lines[0]), marker
        assert not any(marker in line for line in rank_lines[1]), marker
    writers = {path.name.rsplit(".", 2)[1] for path in (output_dir / "tensorboard").iterdir()}
    assert len(writers) == 1
