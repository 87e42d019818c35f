from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_weakloc.data import ProblemLog, read_lesion_boxes


def write_boxes(root: Path, lines: list[str], images=("10_left.jpeg", "10_right.jpeg", "sub/15_left.png")) -> Path:
    for image in images:
        (root / image).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 64)).save(root / image)
    (root / "boxes.csv").write_text("\n".join(lines) + "\n")
    return root / "boxes.csv"


def test_one_record_per_image_with_its_boxes_and_scores(tmp_path):
    table = write_boxes(tmp_path, [
        "image,label,x,y,w,h,score",
        "10_left,MA,1,2,3,4,0.9",
        "sub/15_left.png,HE,5,6,7,8,0.5",
        "10_left,EX,10.5,11,12,13,0.25",
    ])
    records = read_lesion_boxes(table)
    assert [(r["image"], r["id"], r["box_labels"]) for r in records] == [
        (str(tmp_path / "10_left.jpeg"), "10_left", ["MA", "EX"]),
        (str(tmp_path / "sub/15_left.png"), "sub/15_left", ["HE"]),
    ]
    np.testing.assert_array_equal(records[0]["boxes"], np.array([[1, 2, 3, 4], [10.5, 11, 12, 13]], np.float32))
    np.testing.assert_array_equal(records[0]["scores"], np.array([0.9, 0.25], np.float32))
    assert records[0]["boxes"].dtype == np.float32 and records[0]["scores"].dtype == np.float32
    np.testing.assert_array_equal(records[1]["boxes"], np.array([[5, 6, 7, 8]], np.float32))


def test_without_score_column_and_with_image_dir(tmp_path):
    write_boxes(tmp_path / "images", [])
    (tmp_path / "gt.csv").write_text("image,label,x,y,w,h\n10_right.jpeg,1,0,0,5,5\n")
    records = read_lesion_boxes(tmp_path / "gt.csv", image_dir=tmp_path / "images")
    assert len(records) == 1 and "scores" not in records[0]
    assert (records[0]["image"], records[0]["id"], records[0]["box_labels"]) == (
        str(tmp_path / "images" / "10_right.jpeg"), "10_right", ["1"]
    )


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("10_left,MA,1,2,-3,4", r"boxes\.csv, row 2 \(10_left\): box w -3 must be positive"),
        ("10_left,MA,1,2,3,0", r"boxes\.csv, row 2 \(10_left\): box h 0 must be positive"),
        ("10_left,MA,one,2,3,4", r"row 2 \(10_left\): x 'one' is not a finite number"),
        ("10_left,MA,nan,2,3,4", r"row 2 \(10_left\): x 'nan' is not a finite number"),
        ("10_left,,1,2,3,4", r"row 2 \(10_left\): label is empty"),
        ("99_left,MA,1,2,3,4", r"row 2 \(99_left\): image file not found: no 99_left\.\* in "),
        ("99_left.jpeg,MA,1,2,3,4", r"row 2 \(99_left\): image file not found: .*99_left\.jpeg"),
        ("dup,MA,1,2,3,4", r"row 2 \(dup\): image 'dup' is ambiguous: dup\.jpg, dup\.png in "),
    ],
)
def test_malformed_rows_name_file_row_and_value(tmp_path, row, expected):
    table = write_boxes(tmp_path, ["image,label,x,y,w,h", row], images=("10_left.jpeg", "dup.png", "dup.jpg"))
    with pytest.raises(ValueError, match=expected):
        read_lesion_boxes(table)


def test_bad_score_missing_column_and_missing_file(tmp_path):
    table = write_boxes(tmp_path, ["image,label,x,y,w,h,score", "10_left,MA,1,2,3,4,high"])
    with pytest.raises(ValueError, match=r"row 2 \(10_left\): score 'high' is not a finite number"):
        read_lesion_boxes(table)
    table = write_boxes(tmp_path, ["image,label,x,y,width,height", "10_left,MA,1,2,3,4"])
    with pytest.raises(ValueError, match=r"row 1: missing column\(s\) 'w', 'h'"):
        read_lesion_boxes(table)
    with pytest.raises(ValueError, match=r"none\.csv: label file not found"):
        read_lesion_boxes(tmp_path / "none.csv")


def test_skip_mode_keeps_the_good_boxes_of_an_image(tmp_path):
    table = write_boxes(tmp_path, ["image,label,x,y,w,h", "10_left,MA,1,2,3,4", "10_left,MA,1,2,-3,4",
                                   "10_right,HE,0,0,2,2"])
    log = ProblemLog("skip")
    records = read_lesion_boxes(table, problems=log)
    assert [(r["id"], len(r["boxes"])) for r in records] == [("10_left", 1), ("10_right", 1)]
    assert [p.row for p in log.problems] == [3]
