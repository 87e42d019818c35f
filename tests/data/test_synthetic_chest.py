"""Synthetic chest X-rays: ChestX-ray14 and TB layouts as distributed, findings visible inside their boxes."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_weakloc.data.synthetic import synthesize_chestxray14, synthesize_tb_cxr
from monai_weakloc.data import CHESTXRAY14_LABELS
from monai_weakloc.data.synthetic.chest import TB_FINDINGS, render_chest, sample_chest_anatomy

ENTRY_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]"
)


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def chestxray14_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize_chestxray14(tmp_path_factory.mktemp("cxr14") / "ds", num_images=40, seed=1, image_size=64)


def test_chestxray14_tables_have_the_official_headers(chestxray14_root: Path) -> None:
    entries = _rows(chestxray14_root / "Data_Entry_2017.csv")
    assert ",".join(entries[0]) == ENTRY_HEADER
    assert all(len(row) == 11 for row in entries)
    boxes = (chestxray14_root / "BBox_List_2017.csv").read_text().splitlines()
    assert boxes[0] == "Image Index,Finding Label,Bbox [x,y,w,h],,,"
    assert all(line.endswith(",,,") and line.count(",") == 8 for line in boxes[1:])
    labels = {row[1] for row in _rows(chestxray14_root / "BBox_List_2017.csv")[1:]}
    boxed = {"Atelectasis", "Cardiomegaly", "Effusion", "Infiltrate", "Mass", "Nodule", "Pneumonia", "Pneumothorax"}
    assert labels <= boxed and "Infiltration" not in labels


def test_chestxray14_labels_images_and_patient_split(chestxray14_root: Path) -> None:
    entries = _rows(chestxray14_root / "Data_Entry_2017.csv")[1:]
    names = [row[0] for row in entries]
    assert all(re.fullmatch(r"\d{8}_\d{3}\.png", name) for name in names)
    assert sorted(path.name for path in (chestxray14_root / "images").iterdir()) == sorted(names)
    findings = Counter(label for row in entries for label in row[1].split("|"))
    assert set(findings) <= set(CHESTXRAY14_LABELS) | {"No Finding"}
    assert findings["No Finding"] > 0 and len(findings) >= 6
    train = (chestxray14_root / "train_val_list.txt").read_text().split()
    test = (chestxray14_root / "test_list.txt").read_text().split()
    assert sorted(train + test) == sorted(names) and test
    assert not {name[:8] for name in train} & {name[:8] for name in test}, "split is by patient"
    modes = Counter(Image.open(chestxray14_root / "images" / name).mode for name in names)
    assert modes["RGBA"] >= 1 and modes["L"] > modes["RGBA"]
    for name, _, *box, _, _, _ in _rows(chestxray14_root / "BBox_List_2017.csv")[1:]:
        x, y, w, h = map(int, box)
        assert 0 <= x and 0 <= y and x + w <= 64 and y + h <= 64, name


@pytest.mark.parametrize("finding", ["Nodule", "Mass", "Consolidation"])
def test_focal_findings_are_brighter_than_their_surroundings(finding: str) -> None:
    rng = np.random.default_rng(2)
    for _ in range(3):
        radiograph = render_chest(rng, sample_chest_anatomy(rng, 128, 128), [finding])
        (planted,) = radiograph.findings
        x, y, w, h = planted.box
        image = radiograph.image.astype(float)
        centre = image[y + h // 4 : y + h - h // 4 + 1, x + w // 4 : x + w - w // 4 + 1].mean()
        left_strip, right_strip = image[y : y + h, max(0, x - 4) : x], image[y : y + h, x + w : x + w + 4]
        surround = np.concatenate([left_strip.ravel(), right_strip.ravel()])
        assert centre > np.median(surround) + 25


def test_render_chest_rejects_unknown_findings_and_undrawn_cardiomegaly() -> None:
    rng = np.random.default_rng(0)
    anatomy = sample_chest_anatomy(rng, 64, 64)
    with pytest.raises(ValueError, match="Nodle"):
        render_chest(rng, anatomy, ["Nodle"])
    with pytest.raises(ValueError, match="cardiomegaly=True"):
        render_chest(rng, anatomy, ["Cardiomegaly"])


def test_tb_layout_names_labels_and_upper_zone_boxes(tmp_path: Path) -> None:
    root = synthesize_tb_cxr(tmp_path / "tb", num_images=12, seed=3, image_size=64)
    names = sorted(path.name for path in (root / "CXR_png").iterdir())
    assert all(re.fullmatch(r"(CHNCXR|MCUCXR)_\d{4}_[01]\.png", name) for name in names)
    assert sum(name.startswith("MCUCXR") for name in names) == 3
    assert "CHNCXR_0001_0.png" in names or "CHNCXR_0001_1.png" in names
    for source in ("CHNCXR", "MCUCXR"):
        labels = Counter(name[-5] for name in names if name.startswith(source))
        assert abs(labels["0"] - labels["1"]) <= 1, f"{source} is half TB"
    rows = _rows(root / "lesion_boxes.csv")
    assert rows[0] == ["image", "label", "x", "y", "w", "h"]
    with_boxes = {row[0] for row in rows[1:]}
    assert with_boxes == {name[:-4] for name in names if name.endswith("_1.png")}
    for image, label, *box in rows[1:]:
        x, y, w, h = map(int, box)
        width, height = Image.open(root / "CXR_png" / f"{image}.png").size
        assert label in TB_FINDINGS
        assert 0 <= x and x + w <= width and 0 <= y and y + h / 2 < height / 2, "TB lesions lie in the upper zones"
    assert Image.open(root / "CXR_png" / next(n for n in names if n.startswith("MCUCXR"))).size == (64, 78)
