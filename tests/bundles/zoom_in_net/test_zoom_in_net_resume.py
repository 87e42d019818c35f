"""zoom_in_net: a training killed with SIGKILL resumes from its last checkpoint with ``--resume true``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from checkpoint_checks import assert_every_file_is_whole, saved_iteration
from monai_weakloc.engines.checkpoint import latest_checkpoint

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "zoom_in_net" / "configs"
# 14 training images in batches of 2: 7 iterations per epoch; epochs 1-2 in phase 1, epoch 3 in phase 3
EPOCH_LENGTH = 7
TINY = {"synthetic": {"num_images": 24, "image_size": 128, "seed": 0}, "phase_epochs": [2, 0, 1],
        "low_res": 96, "high_res": 128, "region_size": 40, "crop_size": 64, "batch_size": 2, "save_every_iterations": 1}
MAX_EPOCHS = sum(TINY["phase_epochs"])
KILL_AFTER_ITERATION = EPOCH_LENGTH + 2


def training_command(tmp_path: Path, *options: str) -> list[str]:
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    files = [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json"), str(tiny)]
    return [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", repr(files),
            "--bundle_root", str(tmp_path / "run"), *options]


@pytest.mark.slow
def test_killed_training_resumes_at_the_saved_iteration(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ckpt_dir = tmp_path / "run" / "models"
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(training_command(tmp_path), cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while saved_iteration(latest_checkpoint(ckpt_dir)) < KILL_AFTER_ITERATION:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint written in time"
            time.sleep(0.1)
        first.kill()
        first.wait()
    assert_every_file_is_whole(ckpt_dir)
    killed_at = saved_iteration(latest_checkpoint(ckpt_dir))
    assert KILL_AFTER_ITERATION <= killed_at < MAX_EPOCHS * EPOCH_LENGTH

    second = subprocess.run(training_command(tmp_path, "--resume", "true"), cwd=REPO, capture_output=True, text=True,
                            timeout=240, env=env)
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-3000:]
    assert f"checkpoint_{killed_at}.pt at epoch {killed_at // EPOCH_LENGTH}, iteration {killed_at}" in log
    epochs_run = [int(e) for e in re.findall(r"SupervisedTrainer - INFO - Epoch\[(\d+)\] Complete", log)]
    assert epochs_run == list(range(killed_at // EPOCH_LENGTH + 1, MAX_EPOCHS + 1))
    assert f"epoch {epochs_run[0]}: training phase 1" in log  # the resumed epoch is in its phase again
    assert f"epoch {MAX_EPOCHS}: training phase 3" in log

    assert_every_file_is_whole(ckpt_dir)
    final = latest_checkpoint(ckpt_dir)
    trainer_state = torch.load(final, weights_only=True)["trainer"]
    assert trainer_state["iteration"] == MAX_EPOCHS * EPOCH_LENGTH == saved_iteration(final)
    assert not list(ckpt_dir.glob(".checkpoint_*.tmp"))  # the resumed run removed any partial checkpoint
