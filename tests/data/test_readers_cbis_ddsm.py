from __future__ import annotations

import csv
from pathlib import Path

import pytest

from monai_weakloc.data import ProblemLog, read_cbis_ddsm

MASS_HEADER = ["patient_id", "breast_density", "left or right breast", "image view", "abnormality id",
               "abnormality type", "mass shape", "mass margins", "assessment", "pathology", "subtlety",
               "image file path", "cropped image file path", "ROI mask file path"]
CALC_HEADER = [name.replace("breast_density", "breast density").replace("mass shape", "calc type")
               .replace("mass margins", "calc distribution") for name in MASS_HEADER]
IMAGE_1 = "Mass-Training_P_00001_LEFT_CC/1.3.6.1.1/1.3.6.1.2/000000.dcm"
IMAGE_2 = "Mass-Training_P_00004_LEFT_MLO/1.3.6.4.1/1.3.6.4.2/000000.dcm"
IMAGE_3 = "Calc-Test_P_00038_LEFT_CC/1.3.6.38.1/1.3.6.38.2/000000.dcm"


def mask_path(image: str, abnormality: int) -> str:
    return f"{image.split('/')[0]}_{abnormality}/1.3.6.9/1.3.6.9/000001.dcm"


def case_row(patient, side, view, abnormality, pathology, image, mask=None) -> list[str]:
    mask = mask_path(image, abnormality) if mask is None else mask
    return [patient, "3", side, view, str(abnormality), "mass", "OVAL", "CIRCUMSCRIBED", "4", pathology, "4", image,
            "crop/000000.dcm", f"{mask}\n"]


MASS_ROWS = [
    case_row("P_00001", "LEFT", "CC", 1, "BENIGN", IMAGE_1),
    case_row("P_00001", "LEFT", "CC", 2, "MALIGNANT", IMAGE_1),
    case_row("P_00004", "LEFT", "MLO", 1, "BENIGN_WITHOUT_CALLBACK", IMAGE_2),
]
CALC_ROWS = [case_row("P_00038", "LEFT", "CC", 1, "MALIGNANT", IMAGE_3)]


def write_cbis(root: Path, mass_rows=MASS_ROWS, calc_rows=CALC_ROWS, header=MASS_HEADER, files=True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, rows, table_header in (("mass_case_description_train_set.csv", mass_rows, header),
                                     ("calc_case_description_test_set.csv", calc_rows, CALC_HEADER)):
        with (root / name).open("w", newline="") as handle:
            csv.writer(handle).writerows([table_header, *rows])
        for row in rows if files else []:
            for relative in filter(None, (row[11], row[13].strip())):
                (root / relative).parent.mkdir(parents=True, exist_ok=True)
                (root / relative).write_bytes(b"DICM")
    return root


def test_one_record_per_mammogram_malignant_if_any_abnormality_is(tmp_path):
    root = write_cbis(tmp_path)
    masks_1 = {"1": str(root / mask_path(IMAGE_1, 1)), "2": str(root / mask_path(IMAGE_1, 2))}
    assert read_cbis_ddsm(root) == [
        {"image": str(root / IMAGE_3), "id": "Calc-Test_P_00038_LEFT_CC", "label": 1, "split": "test",
         "patient": "P_00038", "laterality": "LEFT", "view": "CC", "masks": {"1": str(root / mask_path(IMAGE_3, 1))},
         "mask_labels": {"1": 1}, "mask": str(root / mask_path(IMAGE_3, 1))},
        {"image": str(root / IMAGE_1), "id": "Mass-Training_P_00001_LEFT_CC", "label": 1, "split": "train",
         "patient": "P_00001", "laterality": "LEFT", "view": "CC", "masks": masks_1,
         "mask_labels": {"1": 0, "2": 1}, "mask": masks_1["1"]},
        {"image": str(root / IMAGE_2), "id": "Mass-Training_P_00004_LEFT_MLO", "label": 0, "split": "train",
         "patient": "P_00004", "laterality": "LEFT", "view": "MLO", "masks": {"1": str(root / mask_path(IMAGE_2, 1))},
         "mask_labels": {"1": 0}, "mask": str(root / mask_path(IMAGE_2, 1))},
    ]


def test_image_dir_option(tmp_path):
    write_cbis(tmp_path / "images")
    for table in (tmp_path / "images").glob("*.csv"):
        table.rename(tmp_path / table.name)
    records = read_cbis_ddsm(tmp_path, image_dir=tmp_path / "images")
    assert [r["image"] for r in records] == [str(tmp_path / "images" / image) for image in (IMAGE_3, IMAGE_1, IMAGE_2)]


@pytest.mark.parametrize(
    ("mass_rows", "expected"),
    [
        ([case_row("P_1", "LEFT", "CC", 1, "UNPROVEN", IMAGE_1)],
         r"mass_case_description_train_set\.csv, row 2 \(Mass-Training_P_00001_LEFT_CC\): "
         r"pathology 'UNPROVEN' is not one of \('MALIGNANT'"),
        ([case_row("P_1", "LEFT", "CC", 0, "BENIGN", IMAGE_1)],
         r"row 2 \(Mass-Training_P_00001_LEFT_CC\): abnormality id 0 is out of range 1\.\.inf"),
        # each row of these tables spans two lines (the mask path ends in a newline): rows are numbered by line
        ([MASS_ROWS[0], MASS_ROWS[0]],
         r"row 4: duplicate abnormality 'Mass-Training_P_00001_LEFT_CC/.*abnormality 1' \(first seen in row 2\)"),
        ([case_row("P_1", "LEFT", "CC", 1, "BENIGN", IMAGE_1, mask="")],
         r"row 2 \(Mass-Training_P_00001_LEFT_CC\): ROI mask file path is empty"),
    ],
)
def test_malformed_rows_name_file_row_and_value(tmp_path, mass_rows, expected):
    root = write_cbis(tmp_path, mass_rows=mass_rows, calc_rows=[])
    with pytest.raises(ValueError, match=expected):
        read_cbis_ddsm(root)


def test_missing_files_and_columns(tmp_path):
    with pytest.raises(ValueError, match=r"mass_case_description_train_set\.csv: label file not found"):
        read_cbis_ddsm(tmp_path)
    root = write_cbis(tmp_path / "a", files=False)
    with pytest.raises(ValueError, match=r"calc_case_description_test_set\.csv, row 2 \(Calc-Test_P_00038_LEFT_CC\): "
                                         r"image file not found: .*Calc-Test_P_00038_LEFT_CC/.*000000\.dcm"):
        read_cbis_ddsm(root)
    root = write_cbis(tmp_path / "b")
    (root / mask_path(IMAGE_3, 1)).unlink()
    expected = r"row 2 \(Calc-Test_P_00038_LEFT_CC\): ROI mask file not found: .*Calc-Test_P_00038_LEFT_CC_1/"
    with pytest.raises(ValueError, match=expected):
        read_cbis_ddsm(root)
    root = write_cbis(tmp_path / "c", header=[name if name != "pathology" else "diagnosis" for name in MASS_HEADER])
    with pytest.raises(ValueError, match=r"train_set\.csv, row 1: missing column\(s\) 'pathology'"):
        read_cbis_ddsm(root)


def test_skip_mode_keeps_the_other_abnormalities_of_an_image(tmp_path):
    rows = [MASS_ROWS[0], case_row("P_00001", "LEFT", "CC", 2, "MALIGN", IMAGE_1), MASS_ROWS[2]]
    root = write_cbis(tmp_path, mass_rows=rows, calc_rows=[])
    log = ProblemLog("skip")
    records = read_cbis_ddsm(root, problems=log)
    assert [(r["id"], r["label"], sorted(r["masks"])) for r in records] == [
        ("Mass-Training_P_00001_LEFT_CC", 0, ["1"]), ("Mass-Training_P_00004_LEFT_MLO", 0, ["1"])
    ]
    assert [p.row for p in log.problems] == [4]  # the second row starts on line 4
