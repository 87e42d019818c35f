"""Bad input to the zoom_in_net bundle's training: each problem is named with its file, or skipped and logged.

The datasets are small synthetic EyePACS datasets in the official layout with one training image damaged:

- missing: the image file is deleted (its row stays in ``trainLabels.csv``);
- truncated: the JPEG is cut to half its bytes (an interrupted download);
- random bytes: the file holds noise;
- level 7: the row's grade is out of EyePACS's 0..4;
- grayscale: the image is saved as a one-channel JPEG;
- RGBA: JPEG cannot hold an alpha channel, so an RGBA image under the ``.jpeg`` name is a PNG file with the
  wrong suffix (as happens with converted or re-downloaded files); PIL, and so the bundle, opens files by
  their content;
- small: the image is resized to 80 x 70 px, below the 96 px network input these tests set.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from monai.bundle import ConfigWorkflow
from PIL import Image

from monai_weakloc.data.synthetic import synthesize

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "zoom_in_net" / "configs"
TRAINING_CONFIGS = [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json")]
TINY = (
    '{"phase_epochs": [1, 0, 0], "batch_size": 4, "val_batch_size": 4, '
    '"low_res": 96, "high_res": 128, "region_size": 40, "crop_size": 64}'
)
NUM_IMAGES = 40
IMAGE_SIZE = 144
SMALL_SIZE = (80, 70)


def train_ids(root: Path) -> list[str]:
    """Image ids of ``trainLabels.csv``, in row order."""
    with open(root / "trainLabels.csv", newline="") as table:
        return [row["image"] for row in csv.DictReader(table)]


def set_level(root: Path, image_id: str, level: str) -> None:
    table = root / "trainLabels.csv"
    rows = list(csv.reader(table.read_text().splitlines()))
    table.write_text("\n".join(",".join([row[0], level] if row[0] == image_id else row) for row in rows) + "\n")


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def fill_with_noise(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def to_grayscale(path: Path) -> None:
    Image.open(path).convert("L").save(path, format="JPEG")


def to_rgba_png(path: Path) -> None:
    Image.open(path).convert("RGBA").save(path, format="PNG")


def shrink(path: Path) -> None:
    Image.open(path).resize(SMALL_SIZE).save(path, format="JPEG")


FILE_DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (truncate, r"corrupt or unreadable image \(OSError: image file is truncated"),
    "random bytes": (fill_with_noise, r"corrupt or unreadable image \(UnidentifiedImageError"),
    "grayscale": (to_grayscale, r"grayscale image where RGB is expected"),
    "RGBA": (to_rgba_png, r"RGBA image where RGB is expected"),
    "small": (shrink, r"image of 80 x 70 px is smaller than the 96 x 96 px the network needs"),
}
PROBLEMS = ["missing", "level 7", *FILE_DAMAGE]


def damage(root: Path, problem: str, image_id: str) -> tuple[Path, str]:
    """Apply ``problem`` to the training image ``image_id``.

    Returns:
        the file the error must name, and a regular expression of the whole message.
    """
    image = root / "train" / f"{image_id}.jpeg"
    table = root / "trainLabels.csv"
    row = train_ids(root).index(image_id) + 2
    if problem == "missing":
        image.unlink()
        where = rf"{re.escape(str(table))}, row {row} \({image_id}\)"
        return image, rf"{where}: image file not found: {re.escape(str(image))}"
    if problem == "level 7":
        set_level(root, image_id, "7")
        return table, rf"{re.escape(str(table))}, row {row} \({image_id}\): level 7 is out of range 0\.\.4"
    damage_file, message = FILE_DAMAGE[problem]
    damage_file(image)
    return image, rf"{re.escape(str(image))}: {message}"


def eyepacs(root: Path) -> Path:
    return synthesize("eyepacs", root, num_images=NUM_IMAGES, image_size=IMAGE_SIZE, seed=0)


def workflow(dataset: Path, bundle_root: Path, on_bad_data: str) -> ConfigWorkflow:
    return ConfigWorkflow(
        config_file=TRAINING_CONFIGS,
        meta_file=str(CONFIGS / "metadata.json"),
        logging_file=False,
        workflow_type="train",
        dataset_dir=str(dataset),
        bundle_root=str(bundle_root),
        on_bad_data=on_bad_data,
        phase_epochs=[1, 0, 0],
        low_res=96,
        high_res=128,
        region_size=40,
        crop_size=64,
    )


def messages(error: BaseException) -> str:
    """The messages of an exception and of every exception it was raised from, one a line."""
    lines = []
    while error is not None:
        lines.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(lines)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("problem", PROBLEMS)
def test_training_stops_naming_the_file_and_the_problem(problem, tmp_path):
    root = eyepacs(tmp_path / "eyepacs")
    image_id = train_ids(root)[2]
    _, message = damage(root, problem, image_id)
    bundle = workflow(root, tmp_path / "bundle", on_bad_data="raise")
    bundle.initialize()
    with pytest.raises(Exception) as raised:
        bundle.run()
    assert re.search(rf"^ValueError: {message}|^{message}", messages(raised.value), flags=re.MULTILINE)
    assert not (tmp_path / "bundle" / "models" / "model.pt").exists()


@pytest.mark.parametrize("problem", PROBLEMS)
def test_skipping_leaves_out_the_bad_image_and_logs_it(problem, tmp_path, caplog):
    root = eyepacs(tmp_path / "eyepacs")
    ids = train_ids(root)
    image_id = ids[2]
    _, message = damage(root, problem, image_id)
    bundle = workflow(root, tmp_path / "bundle", on_bad_data="skip")
    bundle.initialize()
    with caplog.at_level(logging.WARNING, logger="monai_weakloc.data"):
        kept = [record["id"] for record in bundle.train_dataset_data]
    assert image_id not in kept
    assert set(ids) - {image_id} - set(kept) <= {image_id.replace("left", "right"), image_id.replace("right", "left")}
    assert re.search(rf"skipped: {message}", caplog.text)


@pytest.mark.slow
def test_training_as_typed_stops_on_a_truncated_image(tmp_path):
    root = eyepacs(tmp_path / "eyepacs")
    image, message = damage(root, "truncated", train_ids(root)[0])
    result = run_training(root, tmp_path / "bundle", "raise")
    assert result.returncode != 0
    assert re.search(rf"ValueError: {message}", result.stderr)


@pytest.mark.slow
def test_training_as_typed_skips_every_bad_file_and_runs_to_the_end(tmp_path):
    root = eyepacs(tmp_path / "eyepacs")
    ids = train_ids(root)
    patients = list(dict.fromkeys(image_id.rsplit("_", 1)[0] for image_id in ids))
    expected = [damage(root, problem, f"{patient}_left") for problem, patient in zip(PROBLEMS, patients)]

    result = run_training(root, tmp_path / "bundle", "skip")

    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    for _, message in expected:
        assert re.search(rf"skipped: {message}", log), message
    assert "Engine run finished" in log
    assert (tmp_path / "bundle" / "models" / "model.pt").is_file()


def run_training(dataset: Path, bundle_root: Path, on_bad_data: str) -> subprocess.CompletedProcess:
    """``python -m monai.bundle run training`` on quick.json with one epoch, from the repository root."""
    tiny = bundle_root.parent / "tiny.json"
    tiny.write_text(TINY)
    command = [
        sys.executable, "-m", "monai.bundle", "run", "training",
        "--config_file", repr([*TRAINING_CONFIGS, str(tiny)]),
        "--bundle_root", str(bundle_root), "--dataset_dir", str(dataset), "--on_bad_data", on_bad_data,
    ]
    env = {**os.environ, "WEAKLOC_CACHE_DIR": str(bundle_root.parent / "cache")}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
