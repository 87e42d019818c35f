"""saliency_crop: a training killed with SIGKILL in its crop-network stage resumes there with ``--resume true``.

The four stages run in one command (image network, training crops, crop network, threshold). The kill lands after
the image network finished and the crops were written; the resumed command does not train the image network again
(it loads its final checkpoint and runs no epoch), reuses the mean image and the crops, continues the crop network
from its last checkpoint at the right epoch and iteration, and fits the threshold.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from checkpoint_checks import assert_every_file_is_whole, saved_iteration
from monai_weakloc.engines.checkpoint import RESUME_FLAGS, latest_checkpoint

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "saliency_crop" / "configs"
STAGES = ("image_network", "crops", "crop_network", "threshold")
# 32 synthetic images give 20 training images: 5 iterations of 4 per epoch in both network stages (one crop per
# training image); the image network trains 2 epochs, the crop network 4 and saves every iteration, so the kill,
# in its second epoch, has 13 iterations to land before the stage ends.
EPOCH_LENGTH = 5
IMAGE_EPOCHS = 2
CROP_EPOCHS = 4
TINY = {
    "synthetic": {"num_images": 32, "image_size": 128, "seed": 0},
    "image_size": 64,
    "crop_size": 32,
    "batch_size": 4,
    "max_epochs": IMAGE_EPOCHS,
    "crop_max_epochs": CROP_EPOCHS,
    "val_interval": 1,
    "save_every_iterations": 1,
}
KILL_AFTER_ITERATION = EPOCH_LENGTH + 2
STAGE_LINE = re.compile(r"training stage \d of \d: (\w+)")


def training_command(tmp_path: Path, *options: str) -> list[str]:
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    files = [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json"), str(tiny)]
    return [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", repr(files),
            "--bundle_root", str(tmp_path / "run"), *options]  # fmt: skip


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Content hash and modification time of each (non-temporary) file of ``folder``."""
    return {
        path.name: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.startswith(".")
    }


def stage_logs(log: str) -> dict[str, str]:
    """The part of a run's log that each stage wrote, split at run_stages' "training stage i of n" lines."""
    parts = STAGE_LINE.split(log)
    return dict(zip(parts[1::2], parts[2::2]))


def epochs_completed(log: str) -> list[int]:
    return [int(e) for e in re.findall(r"SupervisedTrainer - INFO - Epoch\[(\d+)\] Complete", log)]


@pytest.mark.slow
def test_killed_in_the_crop_network_stage_resumes_there(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    models = tmp_path / "run" / "models"
    image_ckpt, crop_ckpt, crops = models / "image_network", models / "crop_network", models / "crops"
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(training_command(tmp_path), cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while saved_iteration(latest_checkpoint(crop_ckpt)) < KILL_AFTER_ITERATION:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no crop-network checkpoint past its first epoch written in time"
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        assert first.wait() == -signal.SIGKILL
    first_log = (tmp_path / "first.log").read_text()
    assert list(stage_logs(first_log)) == list(STAGES[:3])
    for folder in (image_ckpt, crop_ckpt):
        assert_every_file_is_whole(folder)
    assert saved_iteration(latest_checkpoint(image_ckpt)) == IMAGE_EPOCHS * EPOCH_LENGTH
    killed_at = saved_iteration(latest_checkpoint(crop_ckpt))
    assert KILL_AFTER_ITERATION <= killed_at < CROP_EPOCHS * EPOCH_LENGTH
    assert not (models / "threshold.json").exists()
    written = json.loads((crops / "crops.json").read_text())["crops"]
    assert len(written) == 4 * EPOCH_LENGTH and all((crops / name).is_file() for name in written)
    torch.load(models / "mean_image.pt", weights_only=True)
    finished = {"image": fingerprint(image_ckpt), "crops": fingerprint(crops), "mean": fingerprint(models)}
    killed_stage = fingerprint(crop_ckpt)

    # without the resume flag, the command refuses to train over the earlier run, naming its folder and the flag
    refused = subprocess.run(training_command(tmp_path), cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode != 0
    message = refused.stdout + refused.stderr
    assert f"{image_ckpt} holds the model or checkpoints of an earlier training run" in message, message[-3000:]
    assert RESUME_FLAGS in message
    assert fingerprint(image_ckpt) == finished["image"]
    assert fingerprint(crops) == finished["crops"]
    assert fingerprint(crop_ckpt) == killed_stage
    # the mean image is computed when the config is parsed, before the refusal: rewritten, with the same content
    assert fingerprint(models)["mean_image.pt"][0] == finished["mean"]["mean_image.pt"][0]

    second = subprocess.run(
        training_command(tmp_path, "--resume", "true"), cwd=REPO, capture_output=True, text=True, timeout=120, env=env
    )
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-3000:]
    stages = stage_logs(log)
    assert list(stages) == list(STAGES)
    assert f"mean image: reusing {models / 'mean_image.pt'}" in log

    # the image network had finished: it loads its final checkpoint, trains no epoch and writes nothing
    final_image = IMAGE_EPOCHS * EPOCH_LENGTH
    assert (
        f"resumed from {image_ckpt}/checkpoint_{final_image}.pt at epoch {IMAGE_EPOCHS}, iteration {final_image}"
    ) in stages["image_network"]
    assert epochs_completed(stages["image_network"]) == []
    assert fingerprint(image_ckpt) == finished["image"]

    # the crops are reused as written
    assert f"training crops: reusing {crops}" in stages["crops"]
    assert fingerprint(crops) == finished["crops"]

    # the crop network continues from the iteration it was killed after to the end
    resumed_epoch = killed_at // EPOCH_LENGTH
    assert (
        f"resumed from {crop_ckpt}/checkpoint_{killed_at}.pt at epoch {resumed_epoch}, iteration {killed_at}"
    ) in stages["crop_network"]
    assert epochs_completed(stages["crop_network"]) == list(range(resumed_epoch + 1, CROP_EPOCHS + 1))
    assert_every_file_is_whole(crop_ckpt)
    final = latest_checkpoint(crop_ckpt)
    assert saved_iteration(final) == CROP_EPOCHS * EPOCH_LENGTH
    state = torch.load(final, weights_only=True)
    assert set(state) == {"network", "optimizer", "epoch_record", "trainer"}
    assert state["trainer"]["iteration"] == CROP_EPOCHS * EPOCH_LENGTH
    assert state["trainer"]["epoch_length"] == EPOCH_LENGTH
    assert not list(crop_ckpt.glob(".checkpoint_*.tmp"))  # the resumed run removed any partial checkpoint

    # the threshold stage had not started: it runs
    assert 0 < json.loads((models / "threshold.json").read_text())["threshold"] < 1
