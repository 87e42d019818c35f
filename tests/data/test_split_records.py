"""split_records: one split of a dataset, read, its images checked, fellow eyes paired."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from PIL import Image

from monai_weakloc.data import read_eyepacs, split_records
from monai_weakloc.data.synthetic import synthesize

NUM_IMAGES = 20
IMAGE_SIZE = 96


@pytest.fixture(scope="module")
def eyepacs_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eyepacs")
    return synthesize("eyepacs", root, num_images=NUM_IMAGES, seed=0, image_size=IMAGE_SIZE)


@pytest.fixture
def damaged_root(tmp_path) -> tuple[Path, dict]:
    """A synthetic EyePACS set whose first training image is saved in grayscale."""
    root = synthesize("eyepacs", tmp_path / "eyepacs", num_images=NUM_IMAGES, seed=0, image_size=IMAGE_SIZE)
    bad = read_eyepacs(root, splits="train")[0]
    with Image.open(bad["image"]) as image:
        image.convert("L").save(bad["image"], format="JPEG")
    return root, bad


def test_each_split_holds_the_readers_records_of_that_split(eyepacs_root):
    for split in ("train", "val", "test"):
        records = split_records("eyepacs", eyepacs_root, split=split, min_size=IMAGE_SIZE // 2)
        assert records == read_eyepacs(eyepacs_root, splits=split) and len(records) > 0
        assert {record["split"] for record in records} == {split}


def test_paired_eyes_name_the_fellow_image_of_the_same_patient(eyepacs_root):
    records = split_records("eyepacs", eyepacs_root, split="train", pair_eyes=True)
    images = {record["image"] for record in records}
    for record in records:
        assert record["fellow"] in images and "eye_pair" not in record
        assert Path(record["fellow"]).stem == f"{record['patient']}_{'right' if record['eye'] == 'left' else 'left'}"


def test_an_image_smaller_than_the_network_needs_is_named(eyepacs_root):
    with pytest.raises(ValueError, match=r"is smaller than the 4096 x 4096 px the network needs"):
        split_records("eyepacs", eyepacs_root, split="val", min_size=4096)


def test_a_bad_image_is_named_by_default(damaged_root):
    root, bad = damaged_root
    with pytest.raises(ValueError, match=rf"^{re.escape(bad['image'])}: grayscale image where RGB is expected$"):
        split_records("eyepacs", root, split="train")


def test_skipping_leaves_out_the_bad_image_and_its_fellow_stands_in_for_itself(damaged_root, caplog):
    root, bad = damaged_root
    with caplog.at_level(logging.WARNING, logger="monai_weakloc.data"):
        records = split_records("eyepacs", root, split="train", pair_eyes=True, on_error="skip")
    kept = {record["id"]: record for record in records}
    assert bad["id"] not in kept
    assert len(kept) == len(read_eyepacs(root, splits="train")) - 1
    bad_eye = "right" if bad["eye"] == "left" else "left"
    fellow = next(record for record in records if record["id"] == f"{bad['patient']}_{bad_eye}")
    assert fellow["fellow"] == fellow["image"]
    assert f"skipped: {bad['image']}: grayscale image where RGB is expected" in caplog.text


def test_a_bad_row_is_skipped_like_a_bad_image(damaged_root, caplog):
    root, bad = damaged_root
    table = root / "trainLabels.csv"
    lines = table.read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",7"
    table.write_text("\n".join(lines) + "\n")
    bad_row_id = lines[2].split(",")[0]
    with caplog.at_level(logging.WARNING, logger="monai_weakloc.data"):
        records = split_records("eyepacs", root, split="train", on_error="skip")
    assert {bad["id"], bad_row_id}.isdisjoint(record["id"] for record in records)
    assert f"row 3 ({bad_row_id}): level 7 is out of range 0..4" in caplog.text
    with pytest.raises(ValueError, match=rf"trainLabels\.csv, row 3 \({bad_row_id}\): level 7 is out of range 0\.\.4"):
        split_records("eyepacs", root, split="train")


def test_a_split_of_a_layout_without_splits_is_refused(tmp_path):
    root = synthesize("messidor", tmp_path / "messidor", num_images=4, seed=0, image_size=64)
    assert len(split_records("messidor", root, min_size=32)) == 4
    with pytest.raises(ValueError, match=r"messidor records have no split .* leave split=None"):
        split_records("messidor", root, split="train")


def test_unknown_layout_and_on_error_are_named(eyepacs_root):
    with pytest.raises(ValueError, match=r"unknown dataset layout 'eyepax'"):
        split_records("eyepax", eyepacs_root)
    with pytest.raises(ValueError, match=r"on_error must be one of"):
        split_records("eyepacs", eyepacs_root, on_error="ignore")
