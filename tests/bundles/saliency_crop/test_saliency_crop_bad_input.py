"""Bad input to the saliency_crop bundle's training: each problem is named with its file, or skipped and logged.

The datasets are small synthetic EyePACS datasets in the official layout with one training image damaged:

- missing: the image file is deleted (its row stays in ``trainLabels.csv``);
- truncated: the JPEG is cut to half its bytes (an interrupted download);
- random bytes: the file holds noise;
- level 7: the row's grade is out of EyePACS's 0..4;
- grayscale: the image is saved as a one-channel JPEG;
- RGBA: JPEG cannot hold an alpha channel, so an RGBA image under the ``.jpeg`` name is a PNG file with the wrong
  suffix; PIL, and so the bundle, opens files by their content;
- small: the image is resized to 20 x 18 px, below the 32 px crop these tests set. The image network reads every
  image resized to its input size, so the size an image must have is the crop network's input, ``crop_size``: the
  crop is taken from the full-resolution image and never padded.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
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
CONFIGS = REPO / "bundles" / "saliency_crop" / "configs"
TRAINING_CONFIGS = [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json")]
# batches of 5: the 13 images left after the seven skipped ones end in a batch of 3. A last batch of one image fails
# (batch normalisation of a 1 x 1 feature grid, at the 64 and 32 px inputs here: the training loaders keep it)
TINY = {"image_size": 64, "crop_size": 32, "batch_size": 5, "max_epochs": 1, "crop_max_epochs": 1, "val_interval": 1}
NUM_IMAGES = 32
IMAGE_SIZE = 128
SMALL_SIZE = (20, 18)


def train_ids(root: Path) -> list[str]:
    """Image ids of ``trainLabels.csv`` (the training and validation splits), in row order."""
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
    "small": (shrink, r"image of 20 x 18 px is smaller than the 32 x 32 px the network needs"),
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


def workflow(dataset: Path, bundle_root: Path, on_bad_data: str) -> ConfigWorkflow:
    return ConfigWorkflow(
        config_file=TRAINING_CONFIGS,
        meta_file=str(CONFIGS / "metadata.json"),
        logging_file=False,
        workflow_type="train",
        dataset_dir=str(dataset),
        bundle_root=str(bundle_root),
        on_bad_data=on_bad_data,
        num_workers=0,
        **TINY,
    )


def messages(error: BaseException) -> str:
    """The messages of an exception and of every exception it was raised from, one a line."""
    lines = []
    while error is not None:
        lines.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(lines)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The synthetic set and the ids of its training split (the validation split comes from the same table)."""
    root = synthesize(
        "eyepacs", tmp_path_factory.mktemp("pristine") / "eyepacs", num_images=NUM_IMAGES, image_size=IMAGE_SIZE, seed=0
    )
    cache = tmp_path_factory.mktemp("cache")
    bundle = ConfigWorkflow(
        config_file=TRAINING_CONFIGS, logging_file=False, workflow_type="train", dataset_dir=str(root),
        bundle_root=str(cache / "bundle"), num_workers=0, **TINY,
    )  # fmt: skip
    bundle.initialize()
    return root, [record["id"] for record in bundle.parser.get_parsed_content("records#train")]


@pytest.fixture()
def eyepacs(pristine, tmp_path: Path) -> tuple[Path, list[str]]:
    """A fresh copy of the synthetic set for the test to damage, and its training ids."""
    root, ids = pristine
    return Path(shutil.copytree(root, tmp_path / "eyepacs")), ids


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("problem", PROBLEMS)
def test_training_stops_naming_the_file_and_the_problem(problem, eyepacs, tmp_path):
    root, ids = eyepacs
    _, message = damage(root, problem, ids[2])
    bundle = workflow(root, tmp_path / "bundle", on_bad_data="raise")
    bundle.initialize()
    with pytest.raises(Exception) as raised:
        bundle.run()
    assert re.search(rf"^ValueError: {message}|^{message}", messages(raised.value), flags=re.MULTILINE), messages(
        raised.value
    )
    models = tmp_path / "bundle" / "models"
    assert not list(models.rglob("checkpoint_*.pt")) and not (models / "crops").exists()


@pytest.mark.parametrize("problem", PROBLEMS)
def test_skipping_leaves_out_the_bad_image_and_logs_it(problem, eyepacs, tmp_path, caplog):
    root, ids = eyepacs
    _, message = damage(root, problem, ids[2])
    bundle = workflow(root, tmp_path / "bundle", on_bad_data="skip")
    bundle.initialize()
    with caplog.at_level(logging.WARNING, logger="monai_weakloc.data"):
        kept = [record["id"] for record in bundle.train_dataset_data]
        crop_ids = [record["id"] for record in bundle.parser.get_parsed_content("train_crops#records")]
    assert kept == crop_ids == [image_id for image_id in ids if image_id != ids[2]]
    # the fellow eye's path is None where it was skipped: the records the loaders collate do not carry it
    assert not any("eye_pair" in record for record in bundle.train_dataset_data)
    assert re.search(rf"skipped: {message}", caplog.text), caplog.text


@pytest.mark.slow
def test_training_as_typed_skips_every_bad_file_and_runs_the_four_stages(eyepacs, tmp_path):
    root, ids = eyepacs
    expected = [damage(root, problem, image_id)[1] for problem, image_id in zip(PROBLEMS, ids[::2])]
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    bundle_root = tmp_path / "bundle"
    command = [
        sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", repr([*TRAINING_CONFIGS, str(tiny)]),
        "--bundle_root", str(bundle_root), "--dataset_dir", str(root), "--on_bad_data", "skip",
    ]  # fmt: skip
    env = {**os.environ, "WEAKLOC_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "2"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    for message in expected:
        assert re.search(rf"skipped: {message}", log), message
    models = bundle_root / "models"
    crops = json.loads((models / "crops" / "crops.json").read_text())["crops"]
    assert crops == sorted(f"{image_id}.png" for image_id in ids if image_id not in ids[::2][: len(PROBLEMS)])
    assert 0 < json.loads((models / "threshold.json").read_text())["threshold"] < 1
