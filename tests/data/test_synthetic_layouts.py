"""Synthetic datasets: exact file names and headers of each official layout, determinism, argument errors."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import xlrd
from PIL import Image

from monai_weakloc.data.synthetic import SYNTH_LAYOUTS, synthesize


def _digests(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _first_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0]


@pytest.mark.parametrize("layout", list(SYNTH_LAYOUTS))
def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path, layout: str) -> None:
    first = _digests(synthesize(layout, tmp_path / "a", num_images=6, seed=7, image_size=48))
    second = _digests(synthesize(layout, tmp_path / "b", num_images=6, seed=7, image_size=48))
    other = _digests(synthesize(layout, tmp_path / "c", num_images=6, seed=8, image_size=48))
    assert first == second
    assert first != other


def test_eyepacs_layout(tmp_path: Path) -> None:
    root = synthesize("eyepacs", tmp_path / "ds", num_images=9, image_size=48)
    assert _first_line(root / "trainLabels.csv") == "image,level"
    assert _first_line(root / "retinopathy_solution.csv") == "image,level,Usage"
    assert _first_line(root / "lesion_boxes.csv") == "image,label,x,y,w,h"
    images = [path.name for folder in ("train", "test") for path in sorted((root / folder).iterdir())]
    assert len(images) == 10, "9 images rounded up to 5 patients x 2 eyes"
    assert all(re.fullmatch(r"\d+_(left|right)\.jpeg", name) for name in images)
    masks = sorted(path.name for path in (root / "ma_masks").iterdir())
    assert masks == sorted(name.replace(".jpeg", ".png") for name in images)
    labels = {line.split(",")[1] for line in (root / "lesion_boxes.csv").read_text().splitlines()[1:]}
    assert labels <= {"microaneurysm", "haemorrhage", "hard_exudate", "cotton_wool_spot"}
    sizes = {Image.open(root / "train" / name).size for name in images if (root / "train" / name).exists()}
    assert len(sizes) > 1, "fundus image sizes vary"


def test_messidor_layout(tmp_path: Path) -> None:
    root = synthesize("messidor", tmp_path / "ds", num_images=25, image_size=48)
    assert sorted(path.name for path in root.iterdir()) == ["Base11", "Base21", "Base31"]
    sheet = xlrd.open_workbook(str(root / "Base21" / "Annotation_Base21.xls")).sheet_by_index(0)
    header = ["Image name", "Ophthalmologic department", "Retinopathy grade", "Risk of macular edema "]
    assert sheet.row_values(0) == header
    names = [row[0] for row in map(sheet.row_values, range(1, sheet.nrows))]
    assert sorted(names) == sorted(path.name for path in (root / "Base21").glob("*.tif"))
    assert all(re.fullmatch(r"\d{8}_\d{5}_0200_PP\.tif", name) for name in names)
    grades = [sheet.cell_value(row, 2) for row in range(1, sheet.nrows)]
    assert set(grades) <= {0, 1, 2, 3}


def test_idrid_layout(tmp_path: Path) -> None:
    root = synthesize("idrid", tmp_path / "ds", num_images=5, image_size=48)
    segmentation = root / "A. Segmentation"
    assert (segmentation / "1. Original Images" / "a. Training Set" / "IDRiD_01.jpg").is_file()
    assert (segmentation / "1. Original Images" / "b. Testing Set" / "IDRiD_05.jpg").is_file()
    truth = segmentation / "2. All Segmentation Groundtruths"
    assert (truth / "a. Training Set" / "5. Optic Disc" / "IDRiD_01_OD.tif").is_file()
    folders = {path.name for path in (truth / "a. Training Set").iterdir()}
    assert folders <= {"1. Microaneurysms", "2. Haemorrhages", "3. Hard Exudates", "4. Soft Exudates", "5. Optic Disc"}
    grading = root / "B. Disease Grading"
    train_table = grading / "2. Groundtruths" / "a. IDRiD_Disease Grading_Training Labels.csv"
    test_table = grading / "2. Groundtruths" / "b. IDRiD_Disease Grading_Testing Labels.csv"
    assert _first_line(train_table) == "Image name,Retinopathy grade,Risk of macular edema "
    assert _first_line(test_table) == "Image name,Retinopathy grade,Risk of macular edema "
    assert train_table.read_text().splitlines()[1].startswith("IDRiD_001,")
    assert (grading / "1. Original Images" / "a. Training Set" / "IDRiD_004.jpg").is_file()
    assert (grading / "1. Original Images" / "b. Testing Set" / "IDRiD_001.jpg").is_file()


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"layout": "eyepac"}, ValueError, "did you mean 'eyepacs'"),
        ({"num_images": 0}, ValueError, "num_images"),
        ({"image_size": 16}, ValueError, "image_size"),
        ({"seed": -1}, ValueError, "seed"),
        ({"num_images": 2.5}, TypeError, "num_images"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(tmp_path: Path, arguments: dict, error: type, message: str) -> None:
    call = {"layout": "mias", "num_images": 2, "seed": 0, "image_size": 48} | arguments
    layout = call.pop("layout")
    with pytest.raises(error, match=message):
        synthesize(layout, tmp_path / "ds", **call)


def test_refuses_a_directory_that_holds_files(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        synthesize("mias", tmp_path, num_images=2, image_size=48)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["old.txt"]
