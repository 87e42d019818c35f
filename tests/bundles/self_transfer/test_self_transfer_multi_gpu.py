"""self_transfer multi_gpu_train.json: two processes on CPU (gloo) train data-parallel, rank 0 alone writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "self_transfer" / "configs"
RANK_ZERO_ONLY_HANDLERS = {
    "AtomicCheckpointSaver", "BestModelSaver", "StatsHandler", "TensorBoardStatsHandler", "LossComponentCurves",
    "EngineProgress",
}
# 40 synthetic images give 24 training images (split 0.6 / 0.2 / 0.2): 12 per rank, so DistributedSampler pads
# nothing; in batches of 4 each rank runs 3 iterations per epoch.
TINY = {"synthetic": {"num_images": 40, "image_size": 256, "seed": 0}, "batch_size": 4, "max_epochs": 2}
IMAGES_PER_RANK = 12
EPOCH_LENGTH = 3


def handler_name(handler: dict) -> str:
    return handler["_target_"].rsplit(".", 1)[-1]


def test_only_rank_zero_checkpoints_and_logs_and_every_rank_records_its_samples():
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
    assert config["train"]["dataloader"]["sampler"] == "@train#sampler"
    assert config["validate"]["dataloader"]["sampler"] == "@validate#sampler"


@pytest.mark.slow
def test_two_processes_train_and_see_every_image_once_per_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    bundle_root = tmp_path / "run"
    files = [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json"), str(tiny), str(CONFIGS / "multi_gpu_train.json")]
    # --tee 3 prefixes each output line with the local rank: [default0]: or [default1]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--tee", "3",
               "-m", "monai.bundle", "run", "training", "--config_file", repr(files), "--bundle_root", str(bundle_root)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    single = ConfigParser()
    single.read_config(files[:3])
    single["bundle_root"] = str(bundle_root)
    epochs = TINY["max_epochs"]
    ckpt_dir, output_dir = bundle_root / "models", bundle_root / "outputs"
    checkpoints = sorted(ckpt_dir.glob("checkpoint_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    assert checkpoints[-1].name == f"checkpoint_{EPOCH_LENGTH * epochs}.pt"
    state = torch.load(checkpoints[-1], weights_only=True)
    assert set(state) == {"network", "optimizer", "epoch_record", "trainer"}
    assert state["trainer"]["epoch_length"] == EPOCH_LENGTH
    assert state["trainer"]["iteration"] == EPOCH_LENGTH * epochs
    # the checkpoints hold the unwrapped network: a single-process network loads them as they are
    network = single.get_parsed_content("network_def")
    network.load_state_dict(state["network"])
    network.load_state_dict(torch.load(ckpt_dir / "model.pt", weights_only=True))

    train_ids = sorted(record["id"] for record in single.get_parsed_content("train#records"))
    assert len(train_ids) == 2 * IMAGES_PER_RANK  # an even split: the sampler repeats no image
    seen = [json.loads((output_dir / "seen_samples" / f"seen_samples_rank{rank}.json").read_text()) for rank in (0, 1)]
    assert sorted(seen[0]) == sorted(seen[1]) == [str(e) for e in range(1, epochs + 1)]
    for epoch in seen[0]:
        ranks = [set(seen[rank][epoch]) for rank in (0, 1)]
        assert len(ranks[0]) == len(ranks[1]) == IMAGES_PER_RANK, f"epoch {epoch}"
        assert not ranks[0] & ranks[1], f"epoch {epoch}: an image on both ranks"
        assert Counter(seen[0][epoch] + seen[1][epoch]) == {i: 1 for i in train_ids}, f"epoch {epoch}"
    assert seen[0]["1"] != seen[0]["2"]  # the sampler reshuffles every epoch

    # rank 0 alone logged, saved the models and wrote the loss curves
    rank_lines = {rank: [line for line in done.stdout.splitlines() if line.startswith(f"[default{rank}]:")]
                  for rank in (0, 1)}
    for marker in ("val_auc:", "saved ", "train_loss: "):
        assert any(marker in line for line in rank_lines[0]), marker
        assert not any(marker in line for line in rank_lines[1]), marker
    curves = json.loads((output_dir / "loss_curves.json").read_text())
    assert curves["epoch"] == list(range(1, epochs + 1))
