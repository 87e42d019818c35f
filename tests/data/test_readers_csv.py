from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from monai_weakloc.data import ProblemLog, read_csv


def write_dataset(
    root: Path, lines: list[str], images=("left/a.png", "right/b.png", "c.jpg"), name="labels.csv"
) -> Path:
    for image in images:
        (root / image).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 32)).save(root / image)
    (root / name).write_text("\n".join(lines) + "\n")
    return root


def test_reads_folder_with_labels_csv(tmp_path):
    root = write_dataset(tmp_path, ["image,label", "left/a.png,0", "right/b.png,2", "c.jpg,1"])
    assert read_csv(root) == [
        {"image": str(root / "left/a.png"), "id": "left/a", "label": 0},
        {"image": str(root / "right/b.png"), "id": "right/b", "label": 2},
        {"image": str(root / "c.jpg"), "id": "c", "label": 1},
    ]


def test_csv_file_given_with_split_column_and_absolute_path(tmp_path):
    absolute = tmp_path / "elsewhere.png"
    Image.new("L", (32, 32)).save(absolute)
    root = write_dataset(tmp_path / "data", ["label,image,split", "1,left/a.png,train", f"0,{absolute},test"],
                         images=("left/a.png",), name="fold0.csv")
    assert read_csv(root / "fold0.csv") == [
        {"image": str(root / "left/a.png"), "id": "left/a", "label": 1, "split": "train"},
        {"image": str(absolute), "id": str(absolute.with_suffix("")), "label": 0, "split": "test"},
    ]


@pytest.mark.parametrize(
    ("lines", "options", "expected"),
    [
        (["image,label", "left/a.png,-1"], {}, r"labels\.csv, row 2 \(left/a\): label -1 is out of range 0\.\.inf"),
        (["image,label", "left/a.png,cat"], {}, r"labels\.csv, row 2 \(left/a\): label 'cat' is not an integer"),
        (["image,label", "left/a.png,0", "c.jpg,3"], {"num_classes": 3},
         r"row 3 \(c\): label 3 is out of range 0\.\.2"),
        (["image,label", "left/a.png,0", "left/a.png,1"], {},
         r"row 3: duplicate image 'left/a\.png' \(first seen in row 2\)"),
        (["image,label", "left/z.png,0"], {}, r"row 2 \(left/z\): image file not found: .*left/z\.png"),
        (["image,label", ",0"], {}, r"row 2: image is empty"),
        (["image,label,split", "c.jpg,0,dev"], {},
         r"row 2 \(c\): split 'dev' is not one of \('train', 'val', 'test'\)"),
        (["path,label", "c.jpg,0"], {}, r"labels\.csv, row 1: missing column\(s\) 'image' \(found 'path', 'label'\)"),
        ([], {}, r"labels\.csv: table is empty: no header row"),
    ],
)
def test_malformed_rows_name_file_row_and_value(tmp_path, lines, options, expected):
    root = write_dataset(tmp_path, lines)
    with pytest.raises(ValueError, match=expected):
        read_csv(root, **options)


def test_missing_label_file_and_bad_num_classes(tmp_path):
    with pytest.raises(ValueError, match=r"labels\.csv: label file not found"):
        read_csv(tmp_path)
    with pytest.raises(ValueError, match="num_classes must be at least 1"):
        read_csv(tmp_path, num_classes=0)


def test_skip_mode_collects_problems_with_rows(tmp_path):
    root = write_dataset(tmp_path, ["image,label", "left/a.png,0", "left/z.png,1", "c.jpg,x", "right/b.png,1"])
    log = ProblemLog("skip")
    assert [record["id"] for record in read_csv(root, problems=log)] == ["left/a", "right/b"]
    assert [problem.row for problem in log.problems] == [3, 4]
