"""multi_gpu_inference.json: two processes on CPU (gloo) write the files that one process writes.

The two processes run other batches than one process does (rank 0 images 0, 2 and 4 in one batch, rank 1 images
1 and 3), and the CPU's convolutions add up in another order for another batch: a value may change in its last
bit, and one next to a rounding boundary then changes its last written digit (seen: a box score written
1.056431 instead of 1.056430). In eval mode no layer mixes the images of a batch, so nothing changes more than
that: the tables are compared row by row, the numbers to one unit of their last written decimal, everything else
exactly; the maps' values to 1e-6, their PNGs to one grey level. The overlays print the scores and are compared
by name only.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from monai.bundle import ConfigParser
from PIL import Image

REPO = Path(__file__).resolve().parents[3]
BUNDLES = REPO / "bundles"
CONFIGS = BUNDLES / "zoom_in_net" / "configs"
# 32 synthetic images hold 6 test images
TINY = {"synthetic": {"num_images": 32, "image_size": 128, "seed": 0}, "phase_epochs": [1, 0, 1],
        "low_res": 96, "high_res": 128, "region_size": 40, "crop_size": 64, "batch_size": 4}
# inference on 5 of them: the DistributedSampler's shares are uneven (rank 0 images 0, 2, 4; rank 1 images 1, 3),
# and batches of 4 group them otherwise than one process does (0-3, then 4)
FIVE_IMAGES = {"dataset#data": "$@infer_records[:5]"}


def _bundle_run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, list[str], dict[str, str]]:
    """The bundle trained once on the tiny settings: its bundle root, the inference configs and the environment."""
    root = tmp_path_factory.mktemp("zoom_in_net_multi_gpu_inference")
    tiny, five = root / "tiny.json", root / "five_images.json"
    tiny.write_text(json.dumps(TINY))
    five.write_text(json.dumps(FIVE_IMAGES))
    env = {**os.environ, "WEAKLOC_CACHE_DIR": str(root / "cache"), "OMP_NUM_THREADS": "1"}
    train = [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json"), str(tiny)]
    _bundle_run([sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", repr(train),
                 "--bundle_root", str(root)], env)
    infer = [str(CONFIGS / "train.json"), str(CONFIGS / "inference.json"), str(CONFIGS / "quick.json"), str(tiny), str(five)]
    return root, infer, env


def _assert_same_rows(written: Path, expected: Path) -> None:
    """The same rows of the same columns; numbers equal to one unit of their last written decimal."""
    with open(written, newline="") as handle, open(expected, newline="") as expected_handle:
        rows, expected_rows = list(csv.reader(handle)), list(csv.reader(expected_handle))
    assert len(rows) == len(expected_rows), written.name
    for row, expected_row in zip(rows, expected_rows):
        assert len(row) == len(expected_row), (row, expected_row)
        for value, expected_value in zip(row, expected_row):
            if value != expected_value:
                decimals = expected_value.partition(".")[2]
                assert decimals.isdigit(), (row, expected_row)
                assert abs(float(value) - float(expected_value)) <= 1.01 * 10.0 ** -len(decimals), (row, expected_row)


def _files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize("bundle", ["zoom_in_net", "ma_segmentation", "self_transfer", "multi_attention", "saliency_crop"])
def test_every_bundle_splits_its_inference_images_with_none_twice_and_none_dropped(bundle):
    configs = BUNDLES / bundle / "configs"
    config = ConfigParser.load_config_files(
        [str(configs / name) for name in ("train.json", "inference.json", "multi_gpu_inference.json")]
    )
    sampler = config["infer_sampler"]
    assert sampler["_target_"] == "monai.data.DistributedSampler"
    assert sampler["even_divisible"] is False and sampler["shuffle"] is False
    assert sampler["dataset"] == "@dataset" and config["dataloader"]["dataset"] == "@dataset"
    assert config["dataloader"]["sampler"] == "@infer_sampler" and config["evaluator"]["val_data_loader"] == "@dataloader"
    assert config["device"] == "$monai_weakloc.engines.distributed.local_device()"
    assert any("init_process_group" in step for step in config["initialize"])
    assert any("destroy_process_group" in step for step in config["finalize"])


@pytest.mark.slow
def test_two_processes_write_the_predictions_boxes_and_heatmaps_of_one(trained):
    root, infer, env = trained
    one, two = root / "one_process", root / "two_processes"
    _bundle_run([sys.executable, "-m", "monai.bundle", "run", "--config_file", repr(infer),
                 "--bundle_root", str(root), "--output_dir", str(one)], env)
    # --tee 3 prefixes each output line with the local rank: [default0]: or [default1]:
    done = _bundle_run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--tee", "3",
                        "-m", "monai.bundle", "run",
                        "--config_file", repr([*infer, str(CONFIGS / "multi_gpu_inference.json")]),
                        "--bundle_root", str(root), "--output_dir", str(two)], env)

    # rank 0 alone wrote the tables, with the rows of both processes
    wrote = [line for line in done.stdout.splitlines() if "wrote 5 predictions" in line]
    assert len(wrote) == 1 and wrote[0].startswith("[default0]:"), done.stdout[-3000:]
    for table in ("predictions.csv", "boxes.csv"):
        _assert_same_rows(two / table, one / table)
    assert len((one / "predictions.csv").read_text().splitlines()) == 1 + 5

    files = _files(one)
    assert _files(two) == files
    heatmaps = [name for name in files if name.startswith("heatmaps/")]
    assert len(heatmaps) == 5 * 4 * 2  # 4 gated maps per image, PNG and NIfTI
    assert len([name for name in files if name.startswith("overlays/")]) == 5
    for name in heatmaps:
        if name.endswith(".nii.gz"):
            np.testing.assert_allclose(
                np.asarray(nib.load(two / name).dataobj), np.asarray(nib.load(one / name).dataobj), rtol=0, atol=1e-6
            )
        else:
            grey, expected_grey = (np.asarray(Image.open(folder / name), dtype=np.int16) for folder in (two, one))
            assert np.abs(grey - expected_grey).max() <= 1, name


@pytest.mark.slow
def test_predict_under_torchrun_writes_the_files_of_one_process(trained):
    root, _, env = trained
    test_images = sorted((root / "cache").glob("eyepacs_*/test/*.jpeg"))
    assert len(test_images) >= 4
    checkpoint = root / "models" / "model.pt"
    tiny_args = [item for key in ("low_res", "high_res", "region_size", "crop_size") for item in ("--arg", f"{key}={TINY[key]}")]
    predict = ["-m", "monai_weakloc.cli", "predict", "zoom_in_net", "--quick", *tiny_args, "--on-error", "skip",
               "--checkpoint", str(checkpoint), "--images", *map(str, test_images)]
    one, two = root / "predict_one_process", root / "predict_two_processes"
    _bundle_run([sys.executable, *predict, "--out", str(one)], env)
    done = _bundle_run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--tee", "3",
                        *predict, "--out", str(two)], env)

    predicted = len((one / "predictions.csv").read_text().splitlines()) - 1
    assert predicted >= 2
    summaries = [line for line in done.stdout.splitlines() if f"{predicted} image(s) predicted" in line]
    assert len(summaries) == 1 and summaries[0].startswith("[default0]:"), done.stdout[-3000:]
    for table in ("predictions.csv", "boxes.csv"):
        _assert_same_rows(two / table, one / table)
    assert _files(two) == _files(one)
