from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from dicom_files import write_dicom
from monai_weakloc.cli.main import cli


def write_csv_dataset(root: Path, rows: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for index, row in enumerate(rows):
        image = row.split(",")[0]
        Image.fromarray(np.full((32, 40), 10 * index, dtype=np.uint8)).save(root / image)
    (root / "labels.csv").write_text("\n".join(["image,label,split", *rows]) + "\n")
    return root


def run_check(*args: str):
    return CliRunner().invoke(cli, ["data", "check", *args])


def test_good_dataset_prints_what_it_holds_and_exits_0(tmp_path):
    root = write_csv_dataset(tmp_path, ["a.png,0,train", "b.png,1,train", "c.png,1,train", "d.jpg,0,val"])
    result = run_check("csv", str(root))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"csv dataset at {root}: 4 images",
        "  train: 3 images (label 0: 1, label 1: 2)",
        "  val: 1 images (label 0: 1)",
        "decoded 4 of 4 image and mask files",
        "no problems found",
    ]


def test_bad_dataset_reports_bad_rows_and_unreadable_images_and_exits_1(tmp_path):
    root = write_csv_dataset(tmp_path, ["a.png,0,train", "b.png,1,train", "c.png,1,train"])
    (root / "b.png").write_bytes(b"\x89PNG truncated")
    with (root / "labels.csv").open("a") as labels:
        labels.write("missing.png,0,train\nc.png,1,train\n")
    result = run_check("csv", str(root))
    assert result.exit_code == 1
    assert "decoded 2 of 3 image and mask files" in result.stdout
    problems = result.stderr.splitlines()
    assert "3 problem(s):" in problems
    assert f"  {root / 'labels.csv'}, row 5 (missing): image file not found: {root / 'missing.png'}" in problems
    assert f"  {root / 'labels.csv'}, row 6: duplicate image 'c.png' (first seen in row 4)" in problems
    assert any(line.startswith(f"  {root / 'b.png'}: cannot decode image: UnidentifiedImageError") for line in problems)


def test_no_decode_only_checks_the_tables(tmp_path):
    root = write_csv_dataset(tmp_path, ["a.png,0,train"])
    (root / "a.png").write_bytes(b"garbage")
    result = run_check("csv", str(root / "labels.csv"), "--no-decode")
    assert result.exit_code == 0, result.output
    assert "decoded" not in result.stdout


def test_options_reach_the_reader_and_masks_and_boxes_are_counted(tmp_path):
    images = tmp_path / "A. Segmentation" / "1. Original Images" / "a. Training Set"
    masks = tmp_path / "A. Segmentation" / "2. All Segmentation Groundtruths" / "a. Training Set"
    images.mkdir(parents=True)
    for image_id in ("IDRiD_01", "IDRiD_02"):
        Image.new("RGB", (48, 32)).save(images / f"{image_id}.jpg")
    (masks / "5. Optic Disc").mkdir(parents=True)
    Image.new("L", (48, 32)).save(masks / "5. Optic Disc" / "IDRiD_01_OD.tif")
    result = run_check("idrid", str(tmp_path), "-o", "task=segmentation", "--option", "lesion=OD")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:3] == [
        f"idrid dataset at {tmp_path}: 2 images",
        "  train: 2 images (label 0: 1, label 1: 1)",
        "  masks: 1 images with a mask (1 mask files)",
    ]
    assert "decoded 3 of 3 image and mask files" in result.stdout


def test_pgm_images_are_decoded_and_boxes_counted(tmp_path):
    (tmp_path / "Info.txt").write_text("mdb001 G CIRC B 20 10 5\nmdb001 G SPIC M 40 30 4\nmdb002 D NORM\n")
    Image.new("L", (64, 48), 30).save(tmp_path / "mdb001.pgm")
    (tmp_path / "mdb002.pgm").write_bytes(b"P5\n64 48\n255\n")  # header only: the pixels are missing
    result = run_check("mias", str(tmp_path))
    assert result.exit_code == 1
    assert "  boxes: 2 on 1 images" in result.stdout
    assert "  all: 2 images (label 0: 1, label 1: 1)" in result.stdout
    assert "decoded 1 of 2 image and mask files" in result.stdout
    assert f"  {tmp_path / 'mdb002.pgm'}: cannot decode image" in result.stderr
    assert str(tmp_path / "mdb001.pgm") not in result.stderr


def test_dicom_images_and_masks_are_decoded_with_itk(tmp_path):
    header = "patient_id,left or right breast,image view,abnormality id,pathology,image file path,ROI mask file path"
    rows = ["P_1,LEFT,CC,1,MALIGNANT,Mass-Test_P_1_LEFT_CC/1/1/000000.dcm,Mass-Test_P_1_LEFT_CC_1/1/1/000000.dcm",
            "P_2,LEFT,CC,1,BENIGN,Mass-Test_P_2_LEFT_CC/1/1/000000.dcm,Mass-Test_P_2_LEFT_CC_1/1/1/000000.dcm"]
    (tmp_path / "mass_case_description_test_set.csv").write_text("\n".join([header, *rows]) + "\n")
    for row in rows:
        for relative in row.split(",")[-2:]:
            write_dicom(tmp_path / relative, np.arange(32 * 40).reshape(32, 40) % 4000, bits=16, modality="MG")
    (tmp_path / rows[1].split(",")[-1]).write_bytes(b"DICM but not really")
    result = run_check("cbis_ddsm", str(tmp_path))
    assert result.exit_code == 1
    assert "  test: 2 images (label 0: 1, label 1: 1)" in result.stdout
    assert "decoded 3 of 4 image and mask files" in result.stdout
    broken_mask = tmp_path / "Mass-Test_P_2_LEFT_CC_1/1/1/000000.dcm"
    assert f"  {broken_mask}: cannot decode image: RuntimeError" in result.stderr


def test_bad_options_are_usage_errors(tmp_path):
    root = write_csv_dataset(tmp_path, ["a.png,0,train"])
    unknown = run_check("csv", str(root), "-o", "task=grading")
    assert unknown.exit_code == 2
    assert "layout csv has no option 'task' (options: num_classes)" in unknown.stderr
    no_value = run_check("csv", str(root), "-o", "num_classes")
    assert no_value.exit_code == 2 and "'num_classes' is not KEY=VALUE" in no_value.stderr
    bad_value = run_check("idrid", str(root), "-o", "task=detection")
    assert bad_value.exit_code == 2 and "IDRiD task must be one of" in bad_value.stderr
    bad_layout = run_check("kaggle", str(root))
    assert bad_layout.exit_code == 2 and "'kaggle' is not one of" in bad_layout.stderr


def test_help_lists_layouts_and_their_options():
    result = run_check("--help")
    assert result.exit_code == 0
    assert "eyepacs: splits, extension" in result.stdout
    assert "idrid: task, lesion" in result.stdout
    assert "--no-decode" in result.stdout
