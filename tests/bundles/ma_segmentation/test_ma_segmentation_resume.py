"""ma_segmentation: a three-stage training killed with SIGKILL in its second stage resumes with ``--resume true``.

The finished first stage is not trained again, the interrupted second one continues from its last checkpoint and
the third one runs; without ``--resume`` the same command refuses to train over the earlier run.
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
CONFIGS = REPO / "bundles" / "ma_segmentation" / "configs"
STAGES = ("hgn_1x", "hgn_05x", "prn")
# 24 synthetic images give 14 training images; one image (its 4 patches) a batch, an HGN epoch one pass of the
# loader: 14 iterations per epoch, 4 epochs per HGN stage (the kill, early in the second epoch of hgn_05x, has
# 40 iterations to land before that stage ends). The PRN trains 1 epoch of 3 batches.
EPOCH_LENGTH = 14
HGN_EPOCHS = 4
PRN_ITERATIONS = 3
TINY = {"synthetic": {"num_images": 24, "image_size": 128, "seed": 0}, "batch_size": 1, "max_epochs": HGN_EPOCHS,
        "save_every_iterations": 1, "hgn#iterations_per_epoch": None, "prn#batches_per_epoch": PRN_ITERATIONS,
        "prn#max_epochs": 1, "prn#lesion_per_image": 40, "prn#healthy_per_image": 200}
KILL_AFTER_ITERATION = EPOCH_LENGTH + 2  # in the second epoch of hgn_05x
STAGE_LINE = re.compile(r"training stage \d of \d: (\w+)")


def training_command(tmp_path: Path, *options: str) -> list[str]:
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    files = [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json"), str(tiny)]
    return [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", repr(files),
            "--bundle_root", str(tmp_path / "run"), *options]


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Content hash and modification time of each (non-temporary) file of ``folder``."""
    return {path.name: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for path in sorted(folder.iterdir()) if not path.name.startswith(".")}


def stage_logs(log: str) -> dict[str, str]:
    """The part of a run's log that each stage wrote, split at run_stages' "training stage i of n" lines."""
    parts = STAGE_LINE.split(log)
    return dict(zip(parts[1::2], parts[2::2]))


def epochs_completed(log: str) -> list[int]:
    return [int(e) for e in re.findall(r"SupervisedTrainer - INFO - Epoch\[(\d+)\] Complete", log)]


@pytest.mark.slow
def test_killed_in_the_second_stage_resumes_there(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ckpt_root = tmp_path / "run" / "models"
    ckpt = {stage: ckpt_root / stage for stage in STAGES}
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(training_command(tmp_path), cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 150
        while saved_iteration(latest_checkpoint(ckpt["hgn_05x"])) < KILL_AFTER_ITERATION:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no hgn_05x checkpoint past its first epoch written in time"
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        assert first.wait() == -signal.SIGKILL
    for stage in ("hgn_1x", "hgn_05x"):
        assert_every_file_is_whole(ckpt[stage])
    assert saved_iteration(latest_checkpoint(ckpt["hgn_1x"])) == HGN_EPOCHS * EPOCH_LENGTH
    killed_at = saved_iteration(latest_checkpoint(ckpt["hgn_05x"]))
    assert KILL_AFTER_ITERATION <= killed_at < HGN_EPOCHS * EPOCH_LENGTH
    assert latest_checkpoint(ckpt["prn"]) is None
    finished_stage, killed_stage = fingerprint(ckpt["hgn_1x"]), fingerprint(ckpt["hgn_05x"])

    # without the resume flag, the command refuses to train over the earlier run, naming its folder and the flag
    refused = subprocess.run(training_command(tmp_path), cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode != 0
    message = refused.stdout + refused.stderr
    assert f"{ckpt['hgn_1x']} holds the model or checkpoints of an earlier training run" in message, message[-3000:]
    assert RESUME_FLAGS in message
    assert fingerprint(ckpt["hgn_1x"]) == finished_stage
    assert fingerprint(ckpt["hgn_05x"]) == killed_stage

    second = subprocess.run(training_command(tmp_path, "--resume", "true"), cwd=REPO, capture_output=True, text=True,
                            timeout=150, env=env)
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-3000:]
    stages = stage_logs(log)
    assert list(stages) == list(STAGES)

    # hgn_1x had finished: it loads its final checkpoint, trains no epoch and writes nothing
    final_1x = HGN_EPOCHS * EPOCH_LENGTH
    assert (f"resumed from {ckpt['hgn_1x']}/checkpoint_{final_1x}.pt at epoch {HGN_EPOCHS}, "
            f"iteration {final_1x}") in stages["hgn_1x"]
    assert epochs_completed(stages["hgn_1x"]) == []
    assert fingerprint(ckpt["hgn_1x"]) == finished_stage
    assert torch.load(latest_checkpoint(ckpt["hgn_1x"]), weights_only=True)["trainer"]["iteration"] == final_1x

    # hgn_05x continues from the iteration it was killed after to the end
    resumed_epoch = killed_at // EPOCH_LENGTH
    assert (f"resumed from {ckpt['hgn_05x']}/checkpoint_{killed_at}.pt at epoch {resumed_epoch}, "
            f"iteration {killed_at}") in stages["hgn_05x"]
    assert epochs_completed(stages["hgn_05x"]) == list(range(resumed_epoch + 1, HGN_EPOCHS + 1))
    assert_every_file_is_whole(ckpt["hgn_05x"])
    final = latest_checkpoint(ckpt["hgn_05x"])
    assert saved_iteration(final) == HGN_EPOCHS * EPOCH_LENGTH
    assert torch.load(final, weights_only=True)["trainer"]["iteration"] == HGN_EPOCHS * EPOCH_LENGTH
    assert not list(ckpt["hgn_05x"].glob(".checkpoint_*.tmp"))  # the resumed run removed any partial checkpoint

    # prn had not started: it starts from scratch and runs all its iterations
    assert f"resume: no checkpoint in {ckpt['prn']}, starting from scratch" in stages["prn"]
    assert epochs_completed(stages["prn"]) == [1]
    assert_every_file_is_whole(ckpt["prn"])
    assert torch.load(latest_checkpoint(ckpt["prn"]), weights_only=True)["trainer"]["iteration"] == PRN_ITERATIONS
    assert (ckpt["prn"] / "model.pt").is_file()
