from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from monai_weakloc.data import ProblemLog, read_idrid

SEG_IMAGES = Path("A. Segmentation") / "1. Original Images"
SEG_MASKS = Path("A. Segmentation") / "2. All Segmentation Groundtruths"
LESION_FOLDERS = {"MA": "1. Microaneurysms", "HE": "2. Haemorrhages", "EX": "3. Hard Exudates",
                  "SE": "4. Soft Exudates", "OD": "5. Optic Disc"}
GRADING = Path("B. Disease Grading")
TRAIN_LABELS = GRADING / "2. Groundtruths" / "a. IDRiD_Disease Grading_Training Labels.csv"
TEST_LABELS = GRADING / "2. Groundtruths" / "b. IDRiD_Disease Grading_Testing Labels.csv"


def save_image(path: Path, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (48, 32)).save(path)
    return path


def write_segmentation(root: Path, masks_by_split: dict[str, dict[str, list[str]]]) -> Path:
    """``masks_by_split``: split folder -> image id -> lesion codes with a mask file."""
    for set_folder, images in masks_by_split.items():
        for image_id, codes in images.items():
            save_image(root / SEG_IMAGES / set_folder / f"{image_id}.jpg")
            for code in codes:
                save_image(root / SEG_MASKS / set_folder / LESION_FOLDERS[code] / f"{image_id}_{code}.tif", "L")
    return root


def write_grading(root: Path, train_rows: list[str] | None, test_rows: list[str] | None,
                  header: str = "Image name,Retinopathy grade,Risk of macular edema ,,,") -> Path:
    for labels, set_folder, rows in ((TRAIN_LABELS, "a. Training Set", train_rows),
                                     (TEST_LABELS, "b. Testing Set", test_rows)):
        if rows is None:
            continue
        labels_file = root / labels
        labels_file.parent.mkdir(parents=True, exist_ok=True)
        labels_file.write_text("\n".join([header, *rows]) + "\n,,,,,\n")
        (root / GRADING / "1. Original Images" / set_folder).mkdir(parents=True, exist_ok=True)
        for row in rows:
            if row.split(",")[0]:
                save_image(root / GRADING / "1. Original Images" / set_folder / f"{row.split(',')[0]}.jpg")
    return root


def test_segmentation_records_with_primary_lesion_and_all_masks(tmp_path):
    root = write_segmentation(tmp_path, {
        "a. Training Set": {"IDRiD_01": ["MA", "HE", "OD"], "IDRiD_02": ["OD"]},
        "b. Testing Set": {"IDRiD_55": ["MA", "SE"]},
    })
    masks = tmp_path / SEG_MASKS
    ma_01 = str(masks / "a. Training Set" / "1. Microaneurysms" / "IDRiD_01_MA.tif")
    he_01 = str(masks / "a. Training Set" / "2. Haemorrhages" / "IDRiD_01_HE.tif")
    od_01 = str(masks / "a. Training Set" / "5. Optic Disc" / "IDRiD_01_OD.tif")
    od_02 = str(masks / "a. Training Set" / "5. Optic Disc" / "IDRiD_02_OD.tif")
    ma_55 = str(masks / "b. Testing Set" / "1. Microaneurysms" / "IDRiD_55_MA.tif")
    se_55 = str(masks / "b. Testing Set" / "4. Soft Exudates" / "IDRiD_55_SE.tif")
    assert read_idrid(tmp_path) == [
        {"image": str(tmp_path / SEG_IMAGES / "a. Training Set" / "IDRiD_01.jpg"), "id": "IDRiD_01", "label": 1,
         "split": "train", "mask": ma_01, "masks": {"MA": ma_01, "HE": he_01, "OD": od_01}},
        {"image": str(tmp_path / SEG_IMAGES / "a. Training Set" / "IDRiD_02.jpg"), "id": "IDRiD_02", "label": 0,
         "split": "train", "mask": None, "masks": {"OD": od_02}},
        {"image": str(tmp_path / SEG_IMAGES / "b. Testing Set" / "IDRiD_55.jpg"), "id": "IDRiD_55", "label": 1,
         "split": "test", "mask": ma_55, "masks": {"MA": ma_55, "SE": se_55}},
    ]
    by_od = read_idrid(tmp_path, lesion="OD")
    assert [(record["label"], record["mask"]) for record in by_od] == [(1, od_01), (1, od_02), (0, None)]


def test_segmentation_mask_problems(tmp_path):
    root = write_segmentation(tmp_path, {"a. Training Set": {"IDRiD_01": ["MA"]}})
    orphan = save_image(root / SEG_MASKS / "a. Training Set" / "2. Haemorrhages" / "IDRiD_09_HE.tif", "L")
    with pytest.raises(ValueError, match=r"IDRiD_09_HE\.tif: mask without image: no IDRiD_09\.jpg among the train"):
        read_idrid(root)
    orphan.unlink()
    save_image(root / SEG_MASKS / "a. Training Set" / "2. Haemorrhages" / "IDRiD_01_EX.tif", "L")
    with pytest.raises(ValueError, match=r"IDRiD_01_EX\.tif: mask file name does not end in _HE\.tif"):
        read_idrid(root)
    log = ProblemLog("skip")
    assert [record["masks"] for record in read_idrid(root, problems=log)] == [
        {"MA": str(root / SEG_MASKS / "a. Training Set" / "1. Microaneurysms" / "IDRiD_01_MA.tif")}
    ]
    assert len(log.problems) == 1


def test_segmentation_without_image_folders(tmp_path):
    with pytest.raises(ValueError, match=r"a\. Training Set: image folder not found \(nor b\. Testing Set\)"):
        read_idrid(tmp_path)


def test_grading_records_from_both_label_files(tmp_path):
    root = write_grading(tmp_path, ["IDRiD_001,3,2,,,", "IDRiD_002,0,0,,,"], ["IDRiD_001,4,1,,,"])
    images = tmp_path / GRADING / "1. Original Images"
    assert read_idrid(root, task="grading") == [
        {"image": str(images / "a. Training Set" / "IDRiD_001.jpg"), "id": "IDRiD_001", "label": 3,
         "macular_edema": 2, "split": "train"},
        {"image": str(images / "a. Training Set" / "IDRiD_002.jpg"), "id": "IDRiD_002", "label": 0,
         "macular_edema": 0, "split": "train"},
        {"image": str(images / "b. Testing Set" / "IDRiD_001.jpg"), "id": "IDRiD_001", "label": 4,
         "macular_edema": 1, "split": "test"},
    ]


def test_grading_column_without_trailing_space_and_test_file_alone(tmp_path):
    root = write_grading(tmp_path, None, ["IDRiD_007,2,0"], header="Image name,Retinopathy grade,Risk of macular edema")
    assert [(record["id"], record["split"]) for record in read_idrid(root, task="grading")] == [("IDRiD_007", "test")]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["IDRiD_001,5,0,,,"],
         r"Training Labels\.csv, row 2 \(IDRiD_001\): Retinopathy grade 5 is out of range 0\.\.4"),
        (["IDRiD_001,1,3,,,"], r"row 2 \(IDRiD_001\): Risk of macular edema 3 is out of range 0\.\.2"),
        (["IDRiD_001,1,0,,,", "IDRiD_001,2,0,,,"], r"row 3: duplicate image 'IDRiD_001' \(first seen in row 2\)"),
        ([",1,0,,,"], r"row 2: Image name is empty"),
    ],
)
def test_grading_malformed_rows(tmp_path, rows, expected):
    root = write_grading(tmp_path, rows, None)
    with pytest.raises(ValueError, match=expected):
        read_idrid(root, task="grading")


def test_grading_missing_files_and_columns(tmp_path):
    with pytest.raises(ValueError, match=r"a\. IDRiD_Disease Grading_Training Labels\.csv: label file not found "
                                         r"\(nor b\. IDRiD_Disease Grading_Testing Labels\.csv\)"):
        read_idrid(tmp_path, task="grading")
    root = write_grading(tmp_path, ["IDRiD_001,1,0,,,"], None)
    (root / GRADING / "1. Original Images" / "a. Training Set" / "IDRiD_001.jpg").unlink()
    expected = r"row 2 \(IDRiD_001\): image file not found: .*a\. Training Set/IDRiD_001\.jpg"
    with pytest.raises(ValueError, match=expected):
        read_idrid(root, task="grading")
    (root / GRADING / "1. Original Images" / "a. Training Set").rmdir()
    with pytest.raises(ValueError, match=r"a\. Training Set: image folder not found \(needed by a\. IDRiD_Disease"):
        read_idrid(root, task="grading")
    write_grading(tmp_path, ["IDRiD_001,1"], None, header="Image name,Retinopathy grade")
    with pytest.raises(ValueError, match=r"row 1: missing column\(s\) 'Risk of macular edema'"):
        read_idrid(root, task="grading")


def test_unknown_task_or_lesion(tmp_path):
    with pytest.raises(ValueError, match="IDRiD task must be one of"):
        read_idrid(tmp_path, task="detection")
    with pytest.raises(ValueError, match="IDRiD lesion must be one of"):
        read_idrid(tmp_path, lesion="XX")
