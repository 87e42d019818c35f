"""self_transfer: a training killed with SIGKILL resumes with ``--resume true`` where it stopped.

The files in ``ckpt_dir`` are whole after the kill (checkpoints are written atomically); without ``--resume`` the
same command refuses to train over the earlier run; with it the trainer continues at the saved iteration, the
alpha schedule gives the alpha of the epoch it resumes in (not the first epochs' value) and ``loss_curves.json``
keeps the epochs finished before the kill.
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
CONFIGS = REPO / "bundles" / "self_transfer" / "configs"
# 40 synthetic images give 24 training images: 12 iterations per epoch in batches of 2. Alpha is 0.1 for epochs
# 1..4 and 0.9 from epoch 5 on; the kill lands in epoch 5 or later, after a checkpoint of epoch 5.
EPOCH_LENGTH = 12
EPOCHS = 8
STEP_EPOCH = 4
ALPHA_START, ALPHA_END = 0.1, 0.9
TINY = {"synthetic": {"num_images": 40, "image_size": 256, "seed": 0}, "batch_size": 2, "max_epochs": EPOCHS,
        "save_every_iterations": 1,
        "alpha": {"mode": "step", "start": ALPHA_START, "end": ALPHA_END, "step_epoch": STEP_EPOCH,
                  "ramp_epochs": [1, STEP_EPOCH]}}
KILL_AFTER_ITERATION = STEP_EPOCH * EPOCH_LENGTH + 2
ALPHA_LINE = re.compile(r"epoch (\d+): SelfTransferLoss\.alpha = ([\d.]+)")


def training_command(tmp_path: Path, *options: str) -> list[str]:
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    files = [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json"), str(tiny)]
    return [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", repr(files),
            "--bundle_root", str(tmp_path / "run"), *options]


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    return {path.name: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for path in sorted(folder.iterdir()) if not path.name.startswith(".")}


def epochs_completed(log: str) -> list[int]:
    return [int(e) for e in re.findall(r"SupervisedTrainer - INFO - Epoch\[(\d+)\] Complete", log)]


def alpha_changes(log: str) -> dict[int, float]:
    return {int(epoch): float(alpha) for epoch, alpha in ALPHA_LINE.findall(log)}


@pytest.mark.slow
def test_killed_training_resumes_at_its_iteration_with_the_alpha_and_curves_of_its_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ckpt_dir, output_dir = tmp_path / "run" / "models", tmp_path / "run" / "outputs"
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(training_command(tmp_path), cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        # mid-epoch: at an epoch's last iteration the curves of that epoch may or may not be written yet
        while (saved := saved_iteration(latest_checkpoint(ckpt_dir))) < KILL_AFTER_ITERATION or not saved % EPOCH_LENGTH:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint past the alpha step written in time"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        assert first.wait() == -signal.SIGKILL
    first_log = (tmp_path / "first.log").read_text()
    assert_every_file_is_whole(ckpt_dir)
    killed_at = saved_iteration(latest_checkpoint(ckpt_dir))
    assert KILL_AFTER_ITERATION <= killed_at < EPOCHS * EPOCH_LENGTH, "the run ended before the kill"
    assert torch.load(latest_checkpoint(ckpt_dir), weights_only=True)["trainer"]["iteration"] == killed_at
    resumed_epoch = killed_at // EPOCH_LENGTH  # epochs finished before the kill
    # the first run changed alpha once, at the step (it starts at alpha#start, so epoch 1 logs no change)
    assert alpha_changes(first_log) == {STEP_EPOCH + 1: ALPHA_END}
    curves_before = json.loads((output_dir / "loss_curves.json").read_text())
    finished = epochs_completed(first_log)
    assert curves_before["epoch"] == finished[: len(curves_before["epoch"])]
    assert curves_before["epoch"] == list(range(1, resumed_epoch + 1))  # the epochs finished before the kill
    snapshot = fingerprint(ckpt_dir)

    # without the resume flag, the command refuses to train over the earlier run, naming its folder and the flag
    refused = subprocess.run(training_command(tmp_path), cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode != 0
    message = refused.stdout + refused.stderr
    assert f"{ckpt_dir} holds the model or checkpoints of an earlier training run" in message, message[-3000:]
    assert RESUME_FLAGS in message
    assert fingerprint(ckpt_dir) == snapshot

    second = subprocess.run(training_command(tmp_path, "--resume", "true"), cwd=REPO, capture_output=True, text=True,
                            timeout=150, env=env)
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-3000:]
    assert (f"resumed from {ckpt_dir}/checkpoint_{killed_at}.pt at epoch {resumed_epoch}, "
            f"iteration {killed_at}") in log
    assert epochs_completed(log) == list(range(resumed_epoch + 1, EPOCHS + 1))
    # the first epoch it trains has the alpha of that epoch, past the step: the schedule follows the epoch
    assert alpha_changes(log) == {resumed_epoch + 1: ALPHA_END}
    assert_every_file_is_whole(ckpt_dir)
    final = latest_checkpoint(ckpt_dir)
    assert saved_iteration(final) == EPOCHS * EPOCH_LENGTH
    assert torch.load(final, weights_only=True)["trainer"]["iteration"] == EPOCHS * EPOCH_LENGTH
    assert not list(ckpt_dir.glob(".checkpoint_*.tmp"))

    # the curves keep the epochs finished before the kill, as they were, and add the resumed ones
    curves = json.loads((output_dir / "loss_curves.json").read_text())
    assert curves["epoch"] == list(range(1, EPOCHS + 1))
    for name in ("classifier", "localizer"):
        assert len(curves[name]) == EPOCHS
        assert curves[name][:resumed_epoch] == curves_before[name][:resumed_epoch], name
