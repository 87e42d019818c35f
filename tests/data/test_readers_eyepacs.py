from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from monai_weakloc.data import ProblemLog, read_eyepacs

TRAIN_ROWS = [("10_left", "0"), ("10_right", "2"), ("13_left", "4")]
TEST_ROWS = [("1_left", "1", "Public"), ("1_right", "3", "Private")]


def write_eyepacs(root: Path, train_rows=TRAIN_ROWS, test_rows=TEST_ROWS, train_header="image,level") -> Path:
    """A tiny EyePACS tree; a row whose image starts with 'nofile' gets no image file."""
    if train_rows is not None:
        (root / "train").mkdir(parents=True)
        lines = [train_header] + [",".join(row) for row in train_rows]
        (root / "trainLabels.csv").write_text("\n".join(lines) + "\n")
        for image, *_ in train_rows:
            Image.new("RGB", (32, 24), (90, 30, 10)).save(root / "train" / f"{image}.jpeg")
    if test_rows is not None:
        (root / "test").mkdir(parents=True)
        lines = ["image,level,Usage"] + [",".join(row) for row in test_rows]
        (root / "retinopathy_solution.csv").write_text("\n".join(lines) + "\n")
        for image, *_ in test_rows:
            Image.new("RGB", (32, 24), (90, 30, 10)).save(root / "test" / f"{image}.jpeg")
    return root


def test_reads_train_and_test_with_splits_and_fellow_eyes(tmp_path):
    root = write_eyepacs(tmp_path)
    records = read_eyepacs(root)
    train, test = root / "train", root / "test"
    assert records == [
        {"image": str(train / "10_left.jpeg"), "id": "10_left", "label": 0, "split": "train", "patient": "10",
         "eye": "left", "eye_pair": str(train / "10_right.jpeg")},
        {"image": str(train / "10_right.jpeg"), "id": "10_right", "label": 2, "split": "train", "patient": "10",
         "eye": "right", "eye_pair": str(train / "10_left.jpeg")},
        {"image": str(train / "13_left.jpeg"), "id": "13_left", "label": 4, "split": "train", "patient": "13",
         "eye": "left", "eye_pair": None},
        {"image": str(test / "1_left.jpeg"), "id": "1_left", "label": 1, "split": "val", "patient": "1",
         "eye": "left", "eye_pair": str(test / "1_right.jpeg")},
        {"image": str(test / "1_right.jpeg"), "id": "1_right", "label": 3, "split": "test", "patient": "1",
         "eye": "right", "eye_pair": str(test / "1_left.jpeg")},
    ]


def test_splits_select_and_the_fellow_eye_may_lie_in_another_split(tmp_path):
    root = write_eyepacs(tmp_path)
    val = read_eyepacs(root, splits="val")
    assert [record["id"] for record in val] == ["1_left"]
    assert val[0]["eye_pair"] == str(root / "test" / "1_right.jpeg")
    assert [record["id"] for record in read_eyepacs(root, splits=["train", "test"])] == [
        "10_left", "10_right", "13_left", "1_right"
    ]


def test_either_label_file_may_be_absent(tmp_path):
    only_test = write_eyepacs(tmp_path / "a", train_rows=None)
    assert [record["split"] for record in read_eyepacs(only_test)] == ["val", "test"]
    only_train = write_eyepacs(tmp_path / "b", test_rows=None)
    assert [record["split"] for record in read_eyepacs(only_train)] == ["train"] * 3


def test_no_label_file_at_all_names_the_expected_file(tmp_path):
    with pytest.raises(ValueError, match=r"trainLabels\.csv: label file not found \(nor retinopathy_solution\.csv\)"):
        read_eyepacs(tmp_path)


def test_a_split_asked_for_whose_file_is_absent_is_a_problem(tmp_path):
    root = write_eyepacs(tmp_path, train_rows=None)
    with pytest.raises(ValueError, match=r"trainLabels\.csv: label file not found"):
        read_eyepacs(root, splits="train")


def test_unknown_split_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="EyePACS splits must be"):
        read_eyepacs(write_eyepacs(tmp_path), splits=["training"])


@pytest.mark.parametrize(
    ("train_rows", "expected"),
    [
        ([("10_left", "two")], r"trainLabels\.csv, row 2 \(10_left\): level 'two' is not an integer"),
        ([("10_left", "0"), ("10_right", "5")],
         r"trainLabels\.csv, row 3 \(10_right\): level 5 is out of range 0\.\.4"),
        ([("10_left", "1.5")], r"row 2 \(10_left\): level '1\.5' is not an integer"),
        ([("10_left", "0"), ("10_left", "1")], r"row 3: duplicate image '10_left' \(first seen in row 2\)"),
        ([("10_middle", "0")], r"row 2: image '10_middle' is not named <patient>_left or <patient>_right"),
    ],
)
def test_malformed_rows_name_file_row_and_value(tmp_path, train_rows, expected):
    root = write_eyepacs(tmp_path, train_rows=train_rows, test_rows=None)
    with pytest.raises(ValueError, match=expected):
        read_eyepacs(root)


def test_missing_image_file_is_named(tmp_path):
    root = write_eyepacs(tmp_path, test_rows=None)
    (root / "train" / "10_right.jpeg").unlink()
    expected = r"trainLabels\.csv, row 3 \(10_right\): image file not found: .*train/10_right\.jpeg"
    with pytest.raises(ValueError, match=expected):
        read_eyepacs(root)


def test_missing_column_and_bad_usage(tmp_path):
    root = write_eyepacs(tmp_path / "a", train_header="image,grade", test_rows=None)
    with pytest.raises(ValueError, match=r"Labels\.csv, row 1: missing column\(s\) 'level' \(found 'image', 'grade'\)"):
        read_eyepacs(root)
    root = write_eyepacs(tmp_path / "b", train_rows=None, test_rows=[("1_left", "1", "Hidden")])
    expected = r"retinopathy_solution\.csv, row 2 \(1_left\): Usage 'Hidden' is not Public or Private"
    with pytest.raises(ValueError, match=expected):
        read_eyepacs(root)


def test_skip_mode_keeps_good_rows_and_collects_every_problem(tmp_path):
    rows = [("10_left", "0"), ("10_right", "9"), ("13_left", "x"), ("13_right", "1")]
    root = write_eyepacs(tmp_path, train_rows=rows, test_rows=None)
    log = ProblemLog("skip")
    records = read_eyepacs(root, problems=log)
    assert [record["id"] for record in records] == ["10_left", "13_right"]
    assert records[0]["eye_pair"] is None
    assert [(Path(p.file).name, p.row) for p in log.problems] == [("trainLabels.csv", 3), ("trainLabels.csv", 4)]
    assert [record["id"] for record in read_eyepacs(root, on_error="skip")] == ["10_left", "13_right"]
