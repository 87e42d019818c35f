from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_weakloc.data import CHESTXRAY14_LABELS, ProblemLog, read_chestxray14

ENTRY_HEADER = ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
                "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],")
BOX_HEADER = "Image Index,Finding Label,Bbox [x,y,w,h],,,"
ENTRIES = [
    "00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,",
    "00000001_001.png,Cardiomegaly|Emphysema,1,1,58,M,PA,2894,2729,0.143,0.143,",
    "00000002_000.png,No Finding,0,2,81,M,PA,2500,2048,0.171,0.171,",
    "00000003_000.png,Infiltration|Hernia,0,3,74,F,AP,2500,2048,0.168,0.168,",
]
BOXES = [
    "00000003_000.png,Infiltrate,10.5,20.25,8,6,,,",
    "00000001_000.png,Cardiomegaly,4,5,20,10,,,",
    "00000003_000.png,Hernia,1,2,3,4,,,",
]


def write_chestxray14(root: Path, entries=ENTRIES, boxes=BOXES, train=("00000001_000.png", "00000001_001.png"),
                      test=("00000002_000.png", "00000003_000.png"), folders=("images_001/images", "images_002/images"),
                      entry_header=ENTRY_HEADER) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Data_Entry_2017.csv").write_text("\n".join([entry_header, *entries]) + "\n")
    if boxes is not None:
        (root / "BBox_List_2017.csv").write_text("\n".join([BOX_HEADER, *boxes]) + "\n")
    if train is not None:
        (root / "train_val_list.txt").write_text("\n".join(train) + "\n")
    if test is not None:
        (root / "test_list.txt").write_text("\n".join(test) + "\n")
    for index, entry in enumerate(entries):
        folder = root / folders[index % len(folders)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("L", (32, 32), 100).save(folder / entry.split(",")[0])
    return root


def multi_hot(*names: str) -> np.ndarray:
    label = np.zeros(14, dtype=np.float32)
    for name in names:
        label[CHESTXRAY14_LABELS.index(name)] = 1
    return label


def test_label_order_is_the_published_one():
    assert CHESTXRAY14_LABELS == (
        "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
        "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
    )


def test_reads_labels_splits_and_boxes(tmp_path):
    root = write_chestxray14(tmp_path)
    records = read_chestxray14(root)
    assert [(r["id"], r["split"], r["patient"], r["box_labels"]) for r in records] == [
        ("00000001_000", "train", "1", ["Cardiomegaly"]),
        ("00000001_001", "train", "1", []),
        ("00000002_000", "test", "2", []),
        ("00000003_000", "test", "3", ["Infiltration", "Hernia"]),
    ]
    assert [r["image"] for r in records] == [
        str(root / "images_001/images/00000001_000.png"), str(root / "images_002/images/00000001_001.png"),
        str(root / "images_001/images/00000002_000.png"), str(root / "images_002/images/00000003_000.png"),
    ]
    expected_labels = [multi_hot("Cardiomegaly"), multi_hot("Cardiomegaly", "Emphysema"), multi_hot(),
                       multi_hot("Infiltration", "Hernia")]
    for record, expected in zip(records, expected_labels):
        assert record["label"].dtype == np.float32 and record["label"].shape == (14,)
        np.testing.assert_array_equal(record["label"], expected)
    np.testing.assert_array_equal(records[0]["boxes"], np.array([[4, 5, 20, 10]], dtype=np.float32))
    assert records[1]["boxes"].shape == (0, 4) and records[1]["boxes"].dtype == np.float32
    np.testing.assert_array_equal(records[3]["boxes"], np.array([[10.5, 20.25, 8, 6], [1, 2, 3, 4]], np.float32))


def test_plain_images_folder_without_lists_or_boxes(tmp_path):
    root = write_chestxray14(tmp_path, boxes=None, train=None, test=None, folders=("images",))
    records = read_chestxray14(root)
    assert [r["image"] for r in records] == [str(root / "images" / e.split(",")[0]) for e in ENTRIES]
    assert all("split" not in r and "boxes" not in r for r in records)


@pytest.mark.parametrize(
    ("entries", "boxes", "expected"),
    [
        (["00000001_000.png,Flu,0,1,58,M,PA,1,1,1,1,"], [],
         r"Data_Entry_2017\.csv, row 2 \(00000001_000\): unknown finding label 'Flu' in Finding Labels 'Flu'"),
        (["00000001_000.png,No Finding|Mass,0,1,58,M,PA,1,1,1,1,"], [],
         r"row 2 \(00000001_000\): Finding Labels 'No Finding\|Mass' combines 'No Finding' with findings"),
        ([*ENTRIES, ENTRIES[0]], [], r"Data_Entry_2017\.csv, row 6: duplicate image '00000001_000\.png'"),
        (ENTRIES, ["00000001_000.png,Mass,1,2,-3,4,,,"],
         r"BBox_List_2017\.csv, row 2 \(00000001_000\): box Bbox\[w\] -3 must be positive"),
        (ENTRIES, ["00000001_000.png,Mass,1,two,3,4,,,"],
         r"BBox_List_2017\.csv, row 2 \(00000001_000\): Bbox\[y\] 'two' is not a finite"),
        (ENTRIES, ["00000009_000.png,Mass,1,2,3,4,,,"],
         r"BBox_List_2017\.csv, row 2: image '00000009_000\.png' is not in Data_Entry_2017\.csv"),
        (ENTRIES, ["00000001_000.png,Nodules,1,2,3,4,,,"], r"row 2 \(00000001_000\): unknown finding label 'Nodules'"),
    ],
)
def test_malformed_rows_name_file_row_and_value(tmp_path, entries, boxes, expected):
    root = write_chestxray14(tmp_path, entries=entries, boxes=boxes, train=None, test=None)
    with pytest.raises(ValueError, match=expected):
        read_chestxray14(root)


def test_split_list_problems(tmp_path):
    root = write_chestxray14(tmp_path / "a", test=("00000002_000.png",))
    with pytest.raises(ValueError, match=r"row 5: image '00000003_000\.png' is in neither train_val_list\.txt "
                                         r"nor test_list\.txt"):
        read_chestxray14(root)
    root = write_chestxray14(tmp_path / "b", test=None)
    with pytest.raises(ValueError, match=r"test_list\.txt: split list not found"):
        read_chestxray14(root)
    root = write_chestxray14(tmp_path / "c", test=("00000002_000.png", "00000003_000.png", "00000001_000.png"))
    with pytest.raises(ValueError, match=r"test_list\.txt, row 3: image '00000001_000\.png' is listed twice "
                                         r"\(also in train_val_list\.txt\)"):
        read_chestxray14(root)


def test_missing_files_and_columns(tmp_path):
    with pytest.raises(ValueError, match=r"Data_Entry_2017\.csv: label file not found"):
        read_chestxray14(tmp_path)
    root = write_chestxray14(tmp_path / "a", entry_header="Image Index,Finding Labels,Follow-up #")
    with pytest.raises(ValueError, match=r"row 1: missing column\(s\) 'Patient ID'"):
        read_chestxray14(root)
    root = write_chestxray14(tmp_path / "b", folders=("pictures",))
    with pytest.raises(ValueError, match=r"images: image folder not found \(nor images_001/images"):
        read_chestxray14(root)
    root = write_chestxray14(tmp_path / "c")
    (root / "images_002/images/00000001_001.png").unlink()
    with pytest.raises(ValueError, match=r"row 3 \(00000001_001\): image file not found: 00000001_001\.png"):
        read_chestxray14(root)


def test_skip_mode_drops_bad_rows_and_bad_boxes_only(tmp_path):
    entries = [*ENTRIES[:3], "00000003_000.png,Infiltration|Flu,0,3,74,F,AP,1,1,1,1,"]
    boxes = ["00000001_000.png,Cardiomegaly,4,5,0,10,,,", "00000001_000.png,Cardiomegaly,4,5,20,10,,,"]
    root = write_chestxray14(tmp_path, entries=entries, boxes=boxes, train=None, test=None)
    log = ProblemLog("skip")
    records = read_chestxray14(root, problems=log)
    assert [r["id"] for r in records] == ["00000001_000", "00000001_001", "00000002_000"]
    np.testing.assert_array_equal(records[0]["boxes"], np.array([[4, 5, 20, 10]], dtype=np.float32))
    assert [(Path(p.file).name, p.row) for p in log.problems] == [("Data_Entry_2017.csv", 5), ("BBox_List_2017.csv", 2)]
