"""The truth of a dataset split, read with the project's readers, for the evaluation tasks."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from monai_weakloc.data.synthetic import synthesize
from monai_weakloc.evaluation import dataset_truth
from monai_weakloc.evaluation.lesion_position import most_frequent_lesion_position


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_chestxray14_split_gives_multi_hot_labels_and_boxes_with_the_entry_list_spelling(tmp_path):
    dataset = synthesize("chestxray14", tmp_path / "cx", num_images=16, seed=0, image_size=64)
    truth = dataset_truth("chestxray14", dataset, work_dir=tmp_path / "truth", split="test")
    test_ids = [line.strip().removesuffix(".png") for line in (dataset / "test_list.txt").read_text().split()]
    assert sorted(truth.image_ids) == sorted(test_ids)
    labels = rows(truth.labels_csv)
    assert list(labels[0])[1:15] == [
        "Atelectasis",
        "Cardiomegaly",
        "Effusion",
        "Infiltration",
        "Mass",
        "Nodule",
        "Pneumonia",
        "Pneumothorax",
        "Consolidation",
        "Edema",
        "Emphysema",
        "Fibrosis",
        "Pleural_Thickening",
        "Hernia",
    ]
    entries = {
        row["Image Index"].removesuffix(".png"): row["Finding Labels"] for row in rows(dataset / "Data_Entry_2017.csv")
    }
    for row in labels:
        findings = {name for name, value in row.items() if name != "image" and value == "1"}
        assert findings == (set() if entries[row["image"]] == "No Finding" else set(entries[row["image"]].split("|")))
    boxes = rows(truth.lesion_boxes_csv)
    source = [
        row for row in rows(dataset / "BBox_List_2017.csv") if row["Image Index"].removesuffix(".png") in test_ids
    ]
    assert len(boxes) == len(source) > 0
    assert "Infiltrate" not in {row["label"] for row in boxes}
    assert {row["Finding Label"].replace("Infiltrate", "Infiltration") for row in source} == {
        row["label"] for row in boxes
    }
    assert set(truth.image_sizes) == {row["image"] for row in boxes}
    assert all(size == (64, 64) for size in truth.image_sizes.values())


def test_mias_centres_become_boxes_measured_from_the_top(tmp_path):
    dataset = synthesize("mias", tmp_path / "mias", num_images=6, seed=0, image_size=64)
    truth = dataset_truth("mias", dataset, work_dir=tmp_path / "truth")
    info = [line.split() for line in (dataset / "Info.txt").read_text().splitlines() if line.strip()]
    centres = {fields[0]: (int(fields[4]), int(fields[5]), int(fields[6])) for fields in info if len(fields) == 7}
    boxes = {row["image"]: row for row in rows(truth.lesion_boxes_csv)}
    assert set(boxes) == set(centres)
    for identifier, (x, y_from_bottom, radius) in centres.items():
        height = truth.image_sizes[identifier][0]
        box = boxes[identifier]
        assert float(box["x"]) == x - radius
        assert float(box["y"]) == height - y_from_bottom - radius
        assert float(box["w"]) == float(box["h"]) == 2 * radius


def test_most_frequent_lesion_position_is_where_most_boxes_overlap():
    boxes = {
        "a": np.array([[10, 20, 10, 10]]),  # rows 20..30 of 100, columns 10..20 of 50
        "b": np.array([[12, 22, 4, 4], [40, 80, 5, 5]]),
        "c": np.zeros((0, 4)),
    }
    sizes = {"a": (100, 50), "b": (100, 50), "c": (100, 50)}
    position = most_frequent_lesion_position(boxes, sizes, grid_size=10)
    assert position.coverage == 2 and position.num_boxes == 3 and position.num_images == 2
    assert position.fractions == pytest.approx((0.25, 0.25))
    with pytest.raises(ValueError, match="no image size for image 'b'"):
        most_frequent_lesion_position(boxes, {"a": (100, 50)})


def test_a_split_the_layout_does_not_have_is_named(tmp_path):
    dataset = synthesize("tb_cxr", tmp_path / "tb", num_images=4, seed=0, image_size=64)
    with pytest.raises(ValueError, match="records have no split"):
        dataset_truth("tb_cxr", dataset, work_dir=tmp_path / "truth", split="test")
