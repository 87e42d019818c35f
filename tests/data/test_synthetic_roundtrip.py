"""Every synthetic layout reads back through the dataset readers with the labels and boxes it was written with."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_weakloc.data import read_dataset
from monai_weakloc.data.synthetic import SYNTH_LAYOUTS, synthesize

NUM_IMAGES = 10
IMAGE_SIZE = 64


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("synthetic")
    return {
        layout: synthesize(layout, base / layout, num_images=NUM_IMAGES, seed=11, image_size=IMAGE_SIZE)
        for layout in SYNTH_LAYOUTS
    }


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_eyepacs_round_trip(roots: dict[str, Path]) -> None:
    records = read_dataset("eyepacs", roots["eyepacs"])
    assert len(records) == NUM_IMAGES
    assert {record["split"] for record in records} == {"train", "val", "test"}
    assert all(record["eye_pair"] is not None and Path(record["eye_pair"]).is_file() for record in records)
    table = roots["eyepacs"] / "lesion_boxes.csv"
    boxes = {  # the table names images by id, as trainLabels.csv does; they live in train/ or test/
        record["id"]: record
        for folder in ("train", "test")
        for record in read_dataset("lesion_boxes", table, image_dir=roots["eyepacs"] / folder, on_error="skip")
    }
    assert sum(len(record["boxes"]) for record in boxes.values()) == len(_rows(table))
    assert set(boxes) <= {record["id"] for record in records}


def test_messidor_round_trip(roots: dict[str, Path]) -> None:
    records = read_dataset("messidor", roots["messidor"])
    assert len(records) == NUM_IMAGES
    assert {record["label"] for record in records} == {0, 1, 2, 3}
    assert all(record["macular_edema"] in (0, 1, 2) for record in records)


def test_idrid_round_trip(roots: dict[str, Path]) -> None:
    segmentation = read_dataset("idrid", roots["idrid"], task="segmentation", lesion="MA")
    grading = read_dataset("idrid", roots["idrid"], task="grading")
    assert len(segmentation) == len(grading) == NUM_IMAGES
    for record in segmentation:
        assert record["label"] == int(record["mask"] is not None)
        assert "OD" in record["masks"]
    assert {record["split"] for record in grading} == {"train", "test"}
    assert {record["label"] for record in grading} == set(range(5))


def test_chestxray14_round_trip(roots: dict[str, Path]) -> None:
    records = read_dataset("chestxray14", roots["chestxray14"])
    entries = {row["Image Index"]: row["Finding Labels"] for row in _rows(roots["chestxray14"] / "Data_Entry_2017.csv")}
    assert len(records) == NUM_IMAGES
    for record in records:
        assert record["label"].shape == (14,)
        findings = entries[f"{record['id']}.png"]
        assert int(record["label"].sum()) == (0 if findings == "No Finding" else findings.count("|") + 1)
    num_boxes = len(_rows(roots["chestxray14"] / "BBox_List_2017.csv"))
    assert sum(len(record.get("boxes", ())) for record in records) == num_boxes


def test_tb_cxr_round_trip(roots: dict[str, Path]) -> None:
    records = read_dataset("tb_cxr", roots["tb_cxr"])
    assert len(records) == NUM_IMAGES
    assert all(record["label"] == int(record["id"][-1]) for record in records)
    boxes = read_dataset("lesion_boxes", roots["tb_cxr"] / "lesion_boxes.csv", image_dir=roots["tb_cxr"] / "CXR_png")
    assert {record["id"] for record in boxes} == {record["id"] for record in records if record["label"] == 1}


def test_mias_round_trip_puts_boxes_on_the_bright_abnormality(roots: dict[str, Path]) -> None:
    records = read_dataset("mias", roots["mias"])
    assert len(records) == NUM_IMAGES
    abnormal = [record for record in records if record["label"] == 1]
    assert abnormal
    for record in abnormal:
        (x, y, w, h), = record["boxes"]
        image = np.asarray(Image.open(record["image"]), dtype=np.float32)
        inside = image[int(y) : int(y + h), int(x) : int(x + w)]
        assert inside.max() > np.percentile(image[image > 20], 90), record["id"]
