"""Bad input to the ma_segmentation bundle's training: each problem is named with its file, or skipped and logged.

The datasets are small synthetic IDRiD datasets in the distributed layout with one training image damaged. The
file damages hit a segmentation-set image with a microaneurysm mask (the images the HGNs learn lesions from):

- missing lesion image: the image file is deleted; its masks stay, so the reader names the microaneurysm mask
  that has no image;
- missing healthy image: a grade-0 image of the grading set (a healthy training image) is deleted; its row stays
  in the grading labels CSV;
- grade 7: a grade-0 row of the grading labels CSV gets a retinopathy grade outside IDRiD's 0..4;
- truncated: the JPEG is cut to half its bytes (an interrupted download);
- random bytes: the file holds noise;
- grayscale: the image is saved as a one-channel JPEG;
- RGBA: JPEG cannot hold an alpha channel, so an RGBA image under the ``.jpg`` name is a PNG file with the wrong
  suffix; PIL, and so the bundle, opens files by their content;
- small: the image and its masks are resized to 40 x 36 px. The tests train with quick.json's HGN patch of
  32 px; the half-scale HGN crops that patch from the image at half size, so every training image needs twice
  the patch side (64 px) while the three stages train. Without the check such an image passes the full-scale
  stage and stops the half-scale one in MONAI's patch sampler.
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
CONFIGS = REPO / "bundles" / "ma_segmentation" / "configs"
TRAINING_CONFIGS = [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json")]
# one short epoch per stage on few patches: enough to show that training runs to the end
TINY = {
    "batch_size": 4, "max_epochs": 1, "hgn#iterations_per_epoch": 2, "prn#batches_per_epoch": 2,
    "prn#max_epochs": 1, "prn#lesion_per_image": 20, "prn#healthy_per_image": 50,
    "prn#val_lesion_per_image": 10, "prn#val_healthy_per_image": 20,
}
NUM_IMAGES = 20  # 3 grade-0 training images: losing one keeps a healthy image for training and for validation
IMAGE_SIZE = 128
SMALL_SIZE = (40, 36)
REQUIRED_SIDE = 64  # twice quick.json's hgn#patch_size, for the half-scale HGN
SEGMENTATION_IMAGES = Path("A. Segmentation", "1. Original Images", "a. Training Set")
SEGMENTATION_MASKS = Path("A. Segmentation", "2. All Segmentation Groundtruths", "a. Training Set")
MA_MASKS = SEGMENTATION_MASKS / "1. Microaneurysms"
GRADING_IMAGES = Path("B. Disease Grading", "1. Original Images", "a. Training Set")
GRADING_LABELS = Path("B. Disease Grading", "2. Groundtruths", "a. IDRiD_Disease Grading_Training Labels.csv")
GRADE = "Retinopathy grade"


def lesion_ids(root: Path) -> list[str]:
    """Ids of the training images of the segmentation set that have a microaneurysm mask, sorted."""
    return sorted(path.stem.removesuffix("_MA") for path in (root / MA_MASKS).glob("*_MA.tif"))


def grading_rows(root: Path) -> list[dict[str, str]]:
    with open(root / GRADING_LABELS, newline="") as table:
        return list(csv.DictReader(table))


def healthy_ids(root: Path) -> list[str]:
    """Ids of the grade-0 rows of the grading set's training labels, in row order."""
    return [row["Image name"] for row in grading_rows(root) if int(row[GRADE]) == 0]


def set_grade(root: Path, image_id: str, grade: str) -> None:
    table = root / GRADING_LABELS
    lines = table.read_text().splitlines()
    lines = [",".join([cells[0], grade, *cells[2:]]) if cells[0] == image_id else line
             for line, cells in ((line, line.split(",")) for line in lines)]
    table.write_text("\n".join(lines) + "\n")


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def fill_with_noise(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def to_grayscale(path: Path) -> None:
    Image.open(path).convert("L").save(path, format="JPEG")


def to_rgba_png(path: Path) -> None:
    Image.open(path).convert("RGBA").save(path, format="PNG")


def shrink_with_masks(path: Path) -> None:
    """The segmentation image ``path`` and every mask of it at :data:`SMALL_SIZE` (a consistently downscaled
    pair: the masks keep matching the image)."""
    Image.open(path).resize(SMALL_SIZE).save(path, format="JPEG")
    root = path.parents[len(SEGMENTATION_IMAGES.parts) - 1]
    for mask in (root / SEGMENTATION_MASKS).glob(f"*/{path.stem}_*.tif"):
        Image.open(mask).resize(SMALL_SIZE, Image.NEAREST).save(mask)


FILE_DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (truncate, r"corrupt or unreadable image \(OSError: image file is truncated"),
    "random bytes": (fill_with_noise, r"corrupt or unreadable image \(UnidentifiedImageError"),
    "grayscale": (to_grayscale, r"grayscale image where RGB is expected"),
    "RGBA": (to_rgba_png, r"RGBA image where RGB is expected"),
    "small": (
        shrink_with_masks,
        rf"image of 40 x 36 px is smaller than the {REQUIRED_SIDE} x {REQUIRED_SIDE} px the network needs",
    ),
}
PROBLEMS = ["missing lesion image", "missing healthy image", "grade 7", *FILE_DAMAGE]
GRADING_PROBLEMS = ("missing healthy image", "grade 7")


def damage(root: Path, problem: str, image_id: str) -> str:
    """Apply ``problem`` to the image ``image_id``: a grading-set id for :data:`GRADING_PROBLEMS`, else the id
    of a segmentation-set image with a microaneurysm mask.

    Returns:
        a regular expression of the whole message.
    """
    if problem in GRADING_PROBLEMS:
        table = root / GRADING_LABELS
        row = [r["Image name"] for r in grading_rows(root)].index(image_id) + 2
        where = rf"{re.escape(str(table))}, row {row} \({image_id}\)"
        if problem == "grade 7":
            set_grade(root, image_id, "7")
            return rf"{where}: {GRADE} 7 is out of range 0\.\.4"
        image = root / GRADING_IMAGES / f"{image_id}.jpg"
        image.unlink()
        return rf"{where}: image file not found: {re.escape(str(image))}"
    image = root / SEGMENTATION_IMAGES / f"{image_id}.jpg"
    if problem == "missing lesion image":
        image.unlink()
        mask = root / MA_MASKS / f"{image_id}_MA.tif"
        return rf"{re.escape(str(mask))}: mask without image: no {image_id}\.jpg among the train images"
    damage_file, message = FILE_DAMAGE[problem]
    damage_file(image)
    return rf"{re.escape(str(image))}: {message}"


def damaged_id(root: Path, problem: str) -> str:
    """The image a single-problem test damages: the first grade-0 image for :data:`GRADING_PROBLEMS` (so that
    a healthy image is lost), else the third lesion image."""
    return healthy_ids(root)[0] if problem in GRADING_PROBLEMS else lesion_ids(root)[2]


@pytest.fixture(scope="module")
def pristine_idrid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    return synthesize("idrid", root, num_images=NUM_IMAGES, seed=0, image_size=IMAGE_SIZE)


@pytest.fixture()
def idrid(pristine_idrid: Path, tmp_path: Path) -> Path:
    """A fresh copy of the synthetic IDRiD dataset for the test to damage."""
    return Path(shutil.copytree(pristine_idrid, tmp_path / "idrid"))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))


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


def test_the_synthetic_dataset_has_what_the_damages_need(pristine_idrid):
    assert len(lesion_ids(pristine_idrid)) >= 8
    assert len(healthy_ids(pristine_idrid)) >= 3
    sizes = {Image.open(path).size for path in (pristine_idrid / SEGMENTATION_IMAGES).glob("*.jpg")}
    assert all(min(size) >= REQUIRED_SIDE for size in sizes)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_training_stops_naming_the_file_and_the_problem(problem, idrid, tmp_path):
    message = damage(idrid, problem, damaged_id(idrid, problem))
    bundle = workflow(idrid, tmp_path / "bundle", on_bad_data="raise")
    bundle.initialize()
    with pytest.raises(Exception) as raised:
        bundle.run()
    assert re.search(rf"^ValueError: {message}|^{message}", messages(raised.value), flags=re.MULTILINE)
    assert not any((tmp_path / "bundle" / "models").glob("*/*.pt"))


@pytest.mark.parametrize("problem", PROBLEMS)
def test_skipping_leaves_out_the_bad_image_and_logs_it(problem, idrid, tmp_path, caplog):
    lesions, healthy = lesion_ids(idrid), healthy_ids(idrid)
    bad_id = damaged_id(idrid, problem)
    message = damage(idrid, problem, bad_id)
    bundle = workflow(idrid, tmp_path / "bundle", on_bad_data="skip")
    bundle.initialize()
    with caplog.at_level(logging.WARNING, logger="monai_weakloc.data"):
        records = bundle.parser.get_parsed_content("train_images#records")
        records += bundle.parser.get_parsed_content("val_images#records")
    kept = [record["id"] for record in records]
    assert bad_id not in kept
    assert sorted(kept) == sorted({*lesions, *healthy} - {bad_id})
    assert re.search(rf"skipped: {message}", caplog.text)


def test_without_the_half_scale_stage_an_image_needs_only_the_patch_size(idrid, tmp_path):
    small = lesion_ids(idrid)[2]
    damage(idrid, "small", small)
    bundle = workflow(idrid, tmp_path / "bundle", on_bad_data="raise")
    bundle.parser["stages"] = ["hgn_1x", "prn"]
    bundle.initialize()
    records = bundle.parser.get_parsed_content("train_images#records")
    assert small in [record["id"] for record in records]


@pytest.mark.parametrize("on_bad_data", ["raise", "skip"])
def test_inference_names_a_test_image_smaller_than_the_hgn_patch(on_bad_data, idrid, tmp_path, caplog):
    test_images = sorted((idrid / SEGMENTATION_IMAGES.parent / "b. Testing Set").glob("*.jpg"))
    Image.open(test_images[0]).resize((24, 20)).save(test_images[0], format="JPEG")
    message = rf"{re.escape(str(test_images[0]))}: image of 24 x 20 px is smaller than the 32 x 32 px the network needs"
    bundle = ConfigWorkflow(
        config_file=[TRAINING_CONFIGS[0], str(CONFIGS / "inference.json"), TRAINING_CONFIGS[1]],
        meta_file=str(CONFIGS / "metadata.json"), logging_file=False, workflow_type="infer",
        dataset_dir=str(idrid), bundle_root=str(tmp_path / "bundle"), on_bad_data=on_bad_data,
    )
    bundle.initialize()
    if on_bad_data == "raise":
        with pytest.raises(Exception) as raised:
            bundle.parser.get_parsed_content("infer_records")
        assert re.search(f"^{message}$", messages(raised.value), flags=re.MULTILINE)
        return
    with caplog.at_level(logging.WARNING, logger="monai_weakloc.data"):
        kept = [Path(record["image"]) for record in bundle.parser.get_parsed_content("infer_records")]
    assert kept == test_images[1:]
    assert re.search(rf"skipped: {message}", caplog.text)


def run_training(dataset: Path, bundle_root: Path, on_bad_data: str) -> subprocess.CompletedProcess:
    """``python -m monai.bundle run training`` on quick.json with one short epoch per stage, from the repository
    root."""
    tiny = bundle_root.parent / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    command = [
        sys.executable, "-m", "monai.bundle", "run", "training",
        "--config_file", repr([*TRAINING_CONFIGS, str(tiny)]),
        "--bundle_root", str(bundle_root), "--dataset_dir", str(dataset), "--on_bad_data", on_bad_data,
    ]
    env = {**os.environ, "WEAKLOC_CACHE_DIR": str(bundle_root.parent / "cache"), "OMP_NUM_THREADS": "2"}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_training_as_typed_stops_on_a_small_image(idrid, tmp_path):
    message = damage(idrid, "small", lesion_ids(idrid)[0])
    result = run_training(idrid, tmp_path / "bundle", "raise")
    assert result.returncode != 0
    assert re.search(rf"ValueError: {message}", result.stderr)
    assert "training stage 1 of 3" not in result.stdout + result.stderr


@pytest.mark.slow
def test_training_as_typed_skips_every_bad_file_and_runs_the_three_stages(idrid, tmp_path):
    lesions = lesion_ids(idrid)
    lesion_problems = [problem for problem in PROBLEMS if problem not in GRADING_PROBLEMS]
    # one lesion image per problem of the lesion images; one grade-0 image goes missing and a row of a diseased
    # image gets grade 7, so that the other grade-0 images keep the healthy pool
    expected = [damage(idrid, problem, lesion) for problem, lesion in zip(lesion_problems, lesions)]
    expected.append(damage(idrid, "missing healthy image", healthy_ids(idrid)[0]))
    diseased = next(row["Image name"] for row in grading_rows(idrid) if int(row[GRADE]) > 0)
    expected.append(damage(idrid, "grade 7", diseased))

    result = run_training(idrid, tmp_path / "bundle", "skip")

    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    for message in expected:
        assert re.search(rf"skipped: {message}", log), message
    assert "training stage 3 of 3: prn" in log
    for stage in ("hgn_1x", "hgn_05x", "prn"):
        assert (tmp_path / "bundle" / "models" / stage / "model.pt").is_file(), stage
