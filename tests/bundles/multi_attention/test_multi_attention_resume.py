"""multi_attention: a training killed with SIGKILL resumes with ``--resume true`` where it stopped.

The checkpoint holds the network, optimizer, scheduler, trainer, the hard-example sampler's B and the epoch record
(``monai_weakloc.engines.epoch_record``). Two kills:

- in stage one (before ``hard_examples#stage_two_epoch``): the resumed run continues at the saved iteration and
  mines B once, at the stage-two epoch;
- in stage two, past its first epoch: epochs now have |C| = |A| + |B| samples instead of |A|, so Ignite alone would
  derive the wrong epoch from the iteration count; the resumed run continues in the epoch the record saved, keeps
  the saved B (it does not mine again: what it trains on are the sampler's permutations of C) and ends at the same
  iteration as an uninterrupted run.

Resumed mid-epoch, the run trains the batches of the epoch's permutation that the kill left out, and every later
epoch is one whole permutation (the epoch record skips the batches done and starts a new loader iterator at the
resumed epoch's end; Ignite alone would train the first batches again and carry the iterator into the next epoch).

The files in ``ckpt_dir`` are whole after each kill and load with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from checkpoint_checks import assert_every_file_is_whole, saved_iteration
from monai.bundle import ConfigParser
from weakloc_samplers.hard_example import HardExampleSampler, HardExampleSet

from monai_weakloc.engines.checkpoint import RESUME_FLAGS, latest_checkpoint

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "multi_attention" / "configs"
BATCH_SIZE = 4
EPOCHS = 8
LEARNING_RATE, LR_STEP_EPOCHS, LR_GAMMA = 0.05, 3, 0.1
# 48 synthetic images give 34 training images (A): 9 iterations per epoch in batches of 4; the tiny network's
# stage two adds about 14 hard examples (12 iterations per epoch). Every setting that shapes the run is given here,
# so that the test does not depend on quick.json's tuning.
TINY = {
    "+imports": ["$import monai_weakloc.engines.seen_samples"],
    "synthetic": {"num_images": 48, "image_size": 72, "seed": 0},
    "image_size": 72,
    "crop_size": 64,
    "max_translation": 4,
    "batch_size": BATCH_SIZE,
    "num_workers": 0,
    "max_epochs": EPOCHS,
    "learning_rate": LEARNING_RATE,
    "lr_step_epochs": LR_STEP_EPOCHS,
    "lr_gamma": LR_GAMMA,
    "save_every_iterations": 1,
    "backbone": {
        "layers": [1, 1, 1, 1],
        "width": 4,
        "feature_attention": True,
        "space_attention": True,
        "pooling": "after",
        "pretrained_weights": None,
    },
    "+train#handlers": [
        {
            "_target_": "monai_weakloc.engines.seen_samples.SeenSamplesRecorder",
            "output_dir": "$os.path.join(@output_dir, 'seen_samples')",
        }
    ],
}
HARD_LINE = re.compile(r"hard examples: (\d+) of (\d+) samples .*; stage two samples (\d+) per epoch")


def write_tiny(tmp_path: Path, stage_two_epoch: int) -> list[str]:
    tiny = tmp_path / "tiny.json"
    tiny.write_text(
        json.dumps({**TINY, "hard_examples": {"enabled": True, "stage_two_epoch": stage_two_epoch, "threshold": 0.5}})
    )
    return [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json"), str(tiny)]


def training_command(files: list[str], bundle_root: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", repr(files),
            "--bundle_root", str(bundle_root), *options]  # fmt: skip


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        path.name: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(folder.iterdir())
        if not path.name.startswith(".")
    }


def epochs_completed(log: str) -> list[int]:
    return [int(e) for e in re.findall(r"SupervisedTrainer - INFO - Epoch\[(\d+)\] Complete", log)]


def stage_one_length(files: list[str], bundle_root: Path) -> tuple[int, list[str]]:
    """Iterations per stage-one epoch and the training ids in dataset order (the sampler's indices)."""
    parser = ConfigParser()
    parser.read_config(files)
    parser["bundle_root"] = str(bundle_root)
    train_ids = [record["id"] for record in parser.get_parsed_content("train#records")]
    return math.ceil(len(train_ids) / BATCH_SIZE), train_ids


def run_and_kill(
    command: list[str], log_path: Path, ckpt_dir: Path, kill_when: Callable[[int, str], bool], env: dict
) -> int:
    """Start ``command``, SIGKILL it once ``kill_when(saved iteration, log so far)`` holds; the saved iteration."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        try:
            while not kill_when(saved_iteration(latest_checkpoint(ckpt_dir)), log_path.read_text()):
                assert process.poll() is None, "the run ended before the kill:\n" + log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "no checkpoint to kill at written in time"
                time.sleep(0.005)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            returncode = process.wait()
    assert returncode == -signal.SIGKILL
    assert_every_file_is_whole(ckpt_dir)
    return saved_iteration(latest_checkpoint(ckpt_dir))


def resume(files: list[str], bundle_root: Path, env: dict) -> str:
    second = subprocess.run(
        training_command(files, bundle_root, "--resume", "true"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=150,
        env=env,
    )
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-3000:]
    return log


def check_final_checkpoint(ckpt_dir: Path, iterations: int, epoch_length: int) -> dict:
    assert_every_file_is_whole(ckpt_dir)
    assert not list(ckpt_dir.glob(".checkpoint_*.tmp"))
    final = latest_checkpoint(ckpt_dir)
    assert saved_iteration(final) == iterations
    state = torch.load(final, weights_only=True)
    assert set(state) == {"network", "optimizer", "lr_scheduler", "sampler", "epoch_record", "trainer"}
    assert state["trainer"]["iteration"] == iterations
    assert state["trainer"]["epoch_length"] == epoch_length
    assert state["epoch_record"] == {"epoch": EPOCHS, "iterations_in_epoch": 0}
    # the scheduler resumed with its epoch count: it stepped once per epoch over both runs
    assert state["lr_scheduler"]["last_epoch"] == EPOCHS
    lr = LEARNING_RATE * LR_GAMMA ** (EPOCHS // LR_STEP_EPOCHS)
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(lr)
    return state


@pytest.mark.slow
def test_killed_in_stage_one_resumes_at_its_iteration_and_mines_once(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    stage_two_epoch = 4
    files, bundle_root = write_tiny(tmp_path, stage_two_epoch), tmp_path / "run"
    ckpt_dir = bundle_root / "models"
    length_one, _ = stage_one_length(files, bundle_root)

    # mid-epoch 2 or 3, in stage one
    def in_stage_one(saved: int, log: str) -> bool:
        return saved > length_one and saved % length_one != 0

    killed_at = run_and_kill(training_command(files, bundle_root), tmp_path / "first.log", ckpt_dir, in_stage_one, env)
    assert length_one < killed_at < (stage_two_epoch - 1) * length_one, "the kill missed stage one"
    state = torch.load(latest_checkpoint(ckpt_dir), weights_only=True)
    assert state["sampler"]["hard_indices"] is None  # stage one: no B yet
    epoch, done = killed_at // length_one, killed_at % length_one
    assert state["epoch_record"] == {"epoch": epoch, "iterations_in_epoch": done}
    assert not HARD_LINE.search((tmp_path / "first.log").read_text())

    log = resume(files, bundle_root, env)
    assert f"resumed from {ckpt_dir}/checkpoint_{killed_at}.pt at epoch {epoch}, iteration {killed_at}" in log
    assert epochs_completed(log) == list(range(epoch + 1, EPOCHS + 1))
    mined = HARD_LINE.findall(log)
    assert len(mined) == 1, mined  # once, at the stage-two epoch
    num_c = int(mined[0][2])
    length_two = math.ceil(num_c / BATCH_SIZE)
    iterations = length_one * (stage_two_epoch - 1) + length_two * (EPOCHS - stage_two_epoch + 1)
    state = check_final_checkpoint(ckpt_dir, iterations, length_two)
    assert len(state["sampler"]["hard_indices"]) == int(mined[0][0])


STAGE_TWO_EPOCH = 2


@pytest.fixture(scope="module")
def stage_two_kill(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A run with stage two from epoch 2, killed mid-epoch past the first stage-two epoch, refused, then resumed."""
    tmp_path = tmp_path_factory.mktemp("multi_attention_stage_two_kill")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        files, bundle_root = write_tiny(tmp_path, STAGE_TWO_EPOCH), tmp_path / "run"
        ckpt_dir = bundle_root / "models"
        length_one, train_ids = stage_one_length(files, bundle_root)
        start_two = length_one * (STAGE_TWO_EPOCH - 1)  # iterations before stage two

        # mid-epoch, past the first stage-two epoch (whose start mined B)
        def in_stage_two(saved: int, log: str) -> bool:
            mined = HARD_LINE.search(log)
            if mined is None:
                return False
            length_two = math.ceil(int(mined.group(3)) / BATCH_SIZE)
            return saved > start_two + length_two and (saved - start_two) % length_two != 0

        command = training_command(files, bundle_root)
        killed_at = run_and_kill(command, tmp_path / "first.log", ckpt_dir, in_stage_two, env)
        killed = torch.load(latest_checkpoint(ckpt_dir), weights_only=True)
        snapshot = fingerprint(ckpt_dir)
        refused = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
        refused_snapshot = fingerprint(ckpt_dir)
        log = resume(files, bundle_root, env)
    num_hard, num_a, num_c = (int(n) for n in HARD_LINE.search((tmp_path / "first.log").read_text()).groups())
    return {
        "ckpt_dir": ckpt_dir, "output_dir": bundle_root / "outputs", "train_ids": train_ids,
        "length_one": length_one, "start_two": start_two, "killed_at": killed_at, "killed": killed,
        "snapshot": snapshot, "refused": refused, "refused_snapshot": refused_snapshot, "log": log,
        "num_hard": num_hard, "num_a": num_a, "num_c": num_c, "length_two": math.ceil(num_c / BATCH_SIZE),
    }  # fmt: skip


def killed_epoch(run: dict) -> tuple[int, int]:
    """(epochs finished, iterations done in the next) at the kill."""
    after_start = run["killed_at"] - run["start_two"]
    return STAGE_TWO_EPOCH - 1 + after_start // run["length_two"], after_start % run["length_two"]


@pytest.mark.slow
def test_killed_in_stage_two_resumes_in_its_epoch_with_the_saved_hard_examples(stage_two_kill):
    run = stage_two_kill
    ckpt_dir, killed, killed_at = run["ckpt_dir"], run["killed"], run["killed_at"]
    length_one, length_two, start_two = run["length_one"], run["length_two"], run["start_two"]
    assert run["num_a"] == len(run["train_ids"]) and run["num_c"] == run["num_a"] + run["num_hard"]
    assert run["num_hard"] > 0
    assert length_two != length_one  # the epochs changed length
    assert killed_at < start_two + length_two * (EPOCHS - STAGE_TWO_EPOCH + 1), "the run ended before the kill"
    epoch, done = killed_epoch(run)
    assert epoch > STAGE_TWO_EPOCH - 1 and done > 0
    assert killed["epoch_record"] == {"epoch": epoch, "iterations_in_epoch": done}
    assert killed["trainer"]["epoch_length"] == length_two
    hard_indices = killed["sampler"]["hard_indices"]
    assert len(hard_indices) == run["num_hard"]
    ignite_epoch = killed_at // length_two  # what Ignite derives from the iteration alone
    assert ignite_epoch != epoch

    # without the resume flag, the command refuses to train over the earlier run, naming its folder and the flag
    assert run["refused"].returncode != 0
    message = run["refused"].stdout + run["refused"].stderr
    assert f"{ckpt_dir} holds the model or checkpoints of an earlier training run" in message, message[-3000:]
    assert RESUME_FLAGS in message
    assert run["refused_snapshot"] == run["snapshot"]

    log = run["log"]
    assert f"resumed from {ckpt_dir}/checkpoint_{killed_at}.pt" in log
    assert (
        f"resume: epoch {epoch} with {done} iteration(s) done in the next "
        f"(Ignite derived epoch {ignite_epoch} from iteration {killed_at})"
    ) in log
    assert epochs_completed(log) == list(range(epoch + 1, EPOCHS + 1))
    assert not HARD_LINE.search(log), "the resumed run mined B again"
    state = check_final_checkpoint(ckpt_dir, start_two + length_two * (EPOCHS - STAGE_TWO_EPOCH + 1), length_two)
    torch.testing.assert_close(state["sampler"]["hard_indices"], hard_indices)
    torch.testing.assert_close(state["sampler"]["hard_labels"], killed["sampler"]["hard_labels"])

    # the resumed run drew C = A + B with the saved B: what it trained on is the sampler's permutations of C for
    # the epochs it ran, one after the other, less the batches of the resumed epoch done before the kill
    seen = json.loads((run["output_dir"] / "seen_samples" / "seen_samples_rank0.json").read_text())
    assert sorted(seen, key=int) == [str(e) for e in range(epoch + 1, EPOCHS + 1)]
    assert len(seen[str(epoch + 1)]) == BATCH_SIZE * (length_two - done)  # the rest of the epoch it resumed in
    trained = [sample for e in range(epoch + 1, EPOCHS + 1) for sample in seen[str(e)]]
    sampler = HardExampleSampler(range(run["num_a"]), shuffle=True, seed=0)
    sampler.set_hard_examples(HardExampleSet(indices=hard_indices, hard_labels=killed["sampler"]["hard_labels"]))
    drawn = []
    for e in range(epoch + 1, EPOCHS + 1):
        sampler.set_epoch(e)
        drawn.extend(run["train_ids"][i] for i in sampler)
    assert trained == drawn[BATCH_SIZE * done :]
    assert len(trained) == BATCH_SIZE * (length_two * (EPOCHS - epoch) - done)


@pytest.mark.slow
def test_every_full_epoch_after_a_stage_two_resume_sees_each_index_of_c_once(stage_two_kill):
    run = stage_two_kill
    epoch, _ = killed_epoch(run)
    hard_indices = run["killed"]["sampler"]["hard_indices"].tolist()
    wanted = Counter(run["train_ids"][i] for i in list(range(run["num_a"])) + hard_indices)
    seen = json.loads((run["output_dir"] / "seen_samples" / "seen_samples_rank0.json").read_text())
    for full_epoch in range(epoch + 2, EPOCHS + 1):
        assert Counter(seen[str(full_epoch)]) == wanted, f"epoch {full_epoch}"
