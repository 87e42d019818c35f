"""Synthetic fundus images: the grade is the rule applied to the planted lesions, lesions lie where they should."""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict

import numpy as np
import pytest
from PIL import Image

from monai_weakloc.data.synthetic import synthesize_eyepacs, synthesize_idrid
from monai_weakloc.data.synthetic.fundus import LESION_KINDS, render_fundus, sample_fundus_size, sample_retina_geometry
from monai_weakloc.data.synthetic.fundus_grading import (
    icdr_grade,
    lesion_counts_for_icdr_grade,
    lesion_counts_for_messidor_grade,
    macular_edema_risk,
    messidor_grade,
)


@pytest.mark.parametrize(
    ("counts", "grade"),
    [
        ({}, 0),
        ({"microaneurysm": 3}, 1),
        ({"microaneurysm": 2, "hard_exudate": 1}, 2),
        ({"haemorrhage": 4}, 2),
        ({"haemorrhage": 5}, 3),
        ({"microaneurysm": 1, "cotton_wool_spot": 1}, 4),
    ],
)
def test_icdr_rule(counts: dict[str, int], grade: int) -> None:
    assert icdr_grade(counts) == grade


@pytest.mark.parametrize(
    ("counts", "grade"),
    [
        ({}, 0),
        ({"microaneurysm": 5}, 1),
        ({"microaneurysm": 6}, 2),
        ({"haemorrhage": 1}, 2),
        ({"microaneurysm": 15}, 3),
        ({"haemorrhage": 5}, 3),
    ],
)
def test_messidor_rule(counts: dict[str, int], grade: int) -> None:
    assert messidor_grade(counts) == grade


def test_samplers_give_counts_whose_rule_returns_the_wanted_grade() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        for grade in range(5):
            assert icdr_grade(lesion_counts_for_icdr_grade(rng, grade)) == grade
        for grade in range(4):
            assert messidor_grade(lesion_counts_for_messidor_grade(rng, grade)) == grade
    with pytest.raises(ValueError, match="ICDR grade"):
        lesion_counts_for_icdr_grade(rng, 5)


@pytest.mark.parametrize("image_size", [64, 128])
def test_rendered_lesions_lie_in_the_retina_off_the_disc_and_match_masks(image_size: int) -> None:
    rng = np.random.default_rng(3)
    for grade in (1, 2, 3, 4):
        width, height = sample_fundus_size(rng, image_size)
        geometry = sample_retina_geometry(rng, width, height, "right")
        counts = lesion_counts_for_icdr_grade(rng, grade)
        fundus = render_fundus(rng, geometry, counts)
        assert fundus.image.shape == (height, width, 3)
        assert Counter(lesion.kind for lesion in fundus.lesions) == Counter({k: v for k, v in counts.items() if v})
        for lesion in fundus.lesions:
            distance = math.hypot(lesion.centre_x - geometry.centre_x, lesion.centre_y - geometry.centre_y)
            assert distance + lesion.extent <= geometry.radius
            off_disc = math.hypot(lesion.centre_x - geometry.disc_x, lesion.centre_y - geometry.disc_y)
            assert off_disc > geometry.disc_radius
            x, y, w, h = lesion.box
            assert 0 <= x and 0 <= y and x + w <= width and y + h <= height
            assert w >= 2 and h >= 2, f"{lesion.kind} too small to see at {image_size} px"
            assert fundus.lesion_masks[lesion.kind][y : y + h, x : x + w].any()
        for kind in LESION_KINDS:
            assert fundus.lesion_masks[kind].any() == (counts[kind] > 0)


def test_microaneurysms_are_darker_than_their_surroundings() -> None:
    rng = np.random.default_rng(5)
    geometry = sample_retina_geometry(rng, 128, 110, "left")
    fundus = render_fundus(rng, geometry, {"microaneurysm": 6})
    green = fundus.image[..., 1].astype(float)
    for lesion in fundus.lesions:
        x, y = int(round(lesion.centre_x)), int(round(lesion.centre_y))
        ring = green[y - 5 : y + 6, x - 5 : x + 6]
        assert green[y, x] < np.median(ring) - 10


def test_macular_edema_follows_exudate_distance_to_the_macula() -> None:
    rng = np.random.default_rng(1)
    geometry = sample_retina_geometry(rng, 128, 110, "left")
    fundus = render_fundus(rng, geometry, {"hard_exudate": 4})
    risk = macular_edema_risk(fundus.lesions, geometry.macula_x, geometry.macula_y, geometry.disc_radius)
    nearest = min(math.hypot(e.centre_x - geometry.macula_x, e.centre_y - geometry.macula_y) for e in fundus.lesions)
    assert risk == (2 if nearest <= 2 * geometry.disc_radius else 1)
    assert macular_edema_risk([], geometry.macula_x, geometry.macula_y, geometry.disc_radius) == 0


def _read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_eyepacs_grades_equal_the_rule_on_the_written_lesion_boxes(tmp_path) -> None:
    root = synthesize_eyepacs(tmp_path / "eyepacs", num_images=20, seed=4, image_size=64)
    grades = {row["image"]: int(row["level"]) for row in _read_csv(root / "trainLabels.csv")}
    solution = _read_csv(root / "retinopathy_solution.csv")
    grades.update({row["image"]: int(row["level"]) for row in solution})
    counts: dict[str, Counter] = defaultdict(Counter)
    for row in _read_csv(root / "lesion_boxes.csv"):
        counts[row["image"]][row["label"]] += 1
        x, y, w, h = (int(row[key]) for key in "xywh")
        folder = "train" if (root / "train" / f"{row['image']}.jpeg").exists() else "test"
        width, height = Image.open(root / folder / f"{row['image']}.jpeg").size
        assert 0 <= x and 0 <= y and x + w <= width and y + h <= height
    assert len(grades) == 20
    for image, grade in grades.items():
        assert grade == icdr_grade(counts[image]), image
        ma_mask = np.asarray(Image.open(root / "ma_masks" / f"{image}.png"))
        assert set(np.unique(ma_mask)) <= {0, 255}
        assert ma_mask.any() == (counts[image]["microaneurysm"] > 0)
    assert set(grades.values()) == set(range(5))
    patients = {image.rsplit("_", 1)[0] for image in grades}
    for patient in patients:
        assert abs(grades[f"{patient}_left"] - grades[f"{patient}_right"]) <= 1
    usage = Counter(row["Usage"] for row in solution)
    assert (len(grades) - len(solution), usage["Public"], usage["Private"]) == (12, 4, 4)


def test_idrid_masks_are_binary_and_written_only_for_present_lesions(tmp_path) -> None:
    root = synthesize_idrid(tmp_path / "idrid", num_images=6, seed=2, image_size=64)
    images = sorted((root / "A. Segmentation" / "1. Original Images").rglob("*.jpg"))
    masks = sorted((root / "A. Segmentation" / "2. All Segmentation Groundtruths").rglob("*.tif"))
    assert [path.name for path in images] == [f"IDRiD_0{i}.jpg" for i in range(1, 7)]
    codes_by_image: dict[str, set[str]] = defaultdict(set)
    for path in masks:
        image_id, code = path.stem.rsplit("_", 1)
        codes_by_image[image_id].add(code)
        pixels = np.asarray(Image.open(path))
        assert pixels.shape == np.asarray(Image.open(images[0])).shape[:2]
        assert set(np.unique(pixels)) == {0, 255}, path
    assert all("OD" in codes for codes in codes_by_image.values()) and len(codes_by_image) == 6
    assert any(codes != {"MA", "HE", "EX", "SE", "OD"} for codes in codes_by_image.values())
