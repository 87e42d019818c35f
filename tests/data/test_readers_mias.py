from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_weakloc.data import ProblemLog, read_mias

INFO = """REFNUM BG CLASS SEVERITY X Y RADIUS
mdb001 G CIRC B 20 10 5
mdb001 G SPIC M 40 30 4
mdb002 D NORM

mdb003 F CALC B
"""


def write_mias(root: Path, info: str = INFO, refnums=("mdb001", "mdb002", "mdb003"), size=(64, 48)) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Info.txt").write_text(info)
    for refnum in refnums:
        Image.new("L", size, 50).save(root / f"{refnum}.pgm")
    return root


def test_reads_films_with_boxes_from_bottom_origin_centres(tmp_path):
    root = write_mias(tmp_path)
    records = read_mias(root)
    boxes = [record.pop("boxes") for record in records]
    assert records == [
        {"image": str(root / "mdb001.pgm"), "id": "mdb001", "label": 1, "box_labels": ["CIRC", "SPIC"],
         "abnormalities": ["CIRC", "SPIC"], "severity": "M", "background": "G"},
        {"image": str(root / "mdb002.pgm"), "id": "mdb002", "label": 0, "box_labels": [], "abnormalities": [],
         "severity": None, "background": "D"},
        {"image": str(root / "mdb003.pgm"), "id": "mdb003", "label": 1, "box_labels": [], "abnormalities": ["CALC"],
         "severity": "B", "background": "F"},
    ]
    # image height 48: centre (20, 10 from the bottom), radius 5 -> top-left (15, 48 - 10 - 5 = 33), side 10
    np.testing.assert_array_equal(boxes[0], np.array([[15, 33, 10, 10], [36, 14, 8, 8]], dtype=np.float32))
    assert boxes[1].shape == (0, 4) and boxes[2].shape == (0, 4) and boxes[0].dtype == np.float32


def test_image_height_option_and_image_dir(tmp_path):
    write_mias(tmp_path / "images", refnums=("mdb001", "mdb002", "mdb003"))
    (tmp_path / "Info.txt").write_text(INFO)
    records = read_mias(tmp_path, image_dir=tmp_path / "images", image_height=1024)
    assert records[0]["image"] == str(tmp_path / "images" / "mdb001.pgm")
    np.testing.assert_array_equal(records[0]["boxes"][0], np.array([15, 1009, 10, 10], dtype=np.float32))
    with pytest.raises(ValueError, match="image_height must be positive"):
        read_mias(tmp_path, image_height=0)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("mdb004 G CIRC B 1 2", r"Info\.txt, row 2: malformed line 'mdb004 G CIRC B 1 2': expected REFNUM BG CLASS"),
        ("mdb004 X CIRC B 1 2 3", r"row 2: malformed line .*: BG must be one of"),
        ("mdb004 G BLOB B 1 2 3", r"row 2: malformed line .*CLASS one of"),
        ("mdb004 G CIRC Q 1 2 3", r"row 2: malformed line .*: SEVERITY must be B or M"),
        ("mdb004 G CIRC B 1 y 3", r"row 2: malformed line .*: X, Y and RADIUS must be integers"),
        ("mdb004 G CIRC B 1 2 0", r"row 2: malformed line .*: X and Y must be >= 0 and RADIUS > 0"),
        ("mdb004 G NORM B", r"row 2: malformed line 'mdb004 G NORM B': only NORM lines stop after the class"),
        ("mdb004 G CIRC", r"row 2: malformed line 'mdb004 G CIRC': only NORM lines stop after the class"),
    ],
)
def test_malformed_lines_are_named(tmp_path, line, expected):
    root = write_mias(tmp_path, info=f"mdb002 D NORM\n{line}\n", refnums=("mdb002", "mdb004"))
    with pytest.raises(ValueError, match=expected):
        read_mias(root)
    log = ProblemLog("skip")
    assert [record["id"] for record in read_mias(root, problems=log)] == ["mdb002"]
    assert [(Path(p.file).name, p.row) for p in log.problems] == [("Info.txt", 2)]


def test_conflicting_lines(tmp_path):
    root = write_mias(tmp_path / "a", info="mdb002 D NORM\nmdb002 D CIRC B 1 2 3\n", refnums=("mdb002",))
    with pytest.raises(ValueError, match=r"row 2: mdb002 is already listed as NORM in row 1"):
        read_mias(root)
    root = write_mias(tmp_path / "b", info="mdb002 D CIRC B 1 2 3\nmdb002 D NORM\n", refnums=("mdb002",))
    with pytest.raises(ValueError, match=r"row 2: mdb002 is NORM here but has an abnormality in row 1"):
        read_mias(root)


def test_missing_files_and_unreadable_header(tmp_path):
    with pytest.raises(ValueError, match=r"Info\.txt: label file not found"):
        read_mias(tmp_path)
    root = write_mias(tmp_path, refnums=("mdb001", "mdb002"))
    with pytest.raises(ValueError, match=r"Info\.txt, row 6 \(mdb003\): image file not found: .*mdb003\.pgm"):
        read_mias(root)
    (root / "mdb003.pgm").write_bytes(b"not a pgm")
    with pytest.raises(ValueError, match=r"mdb003\.pgm: cannot read the image header for its height"):
        read_mias(root)
    assert [r["id"] for r in read_mias(root, image_height=1024)] == ["mdb001", "mdb002", "mdb003"]
