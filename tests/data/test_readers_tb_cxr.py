from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from monai_weakloc.data import ProblemLog, read_tb_cxr


def write_pngs(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new("L", (32, 32), 80).save(folder / name)
    return folder


def test_reads_cxr_png_folder_labels_from_last_digit(tmp_path):
    folder = write_pngs(tmp_path / "CXR_png", ["MCUCXR_0002_1.png", "CHNCXR_0001_0.png", "CHNCXR_0002_1.png"])
    (folder / "Thumbs.db").write_bytes(b"")
    assert read_tb_cxr(tmp_path) == [
        {"image": str(folder / "CHNCXR_0001_0.png"), "id": "CHNCXR_0001_0", "label": 0, "source": "CHNCXR"},
        {"image": str(folder / "CHNCXR_0002_1.png"), "id": "CHNCXR_0002_1", "label": 1, "source": "CHNCXR"},
        {"image": str(folder / "MCUCXR_0002_1.png"), "id": "MCUCXR_0002_1", "label": 1, "source": "MCUCXR"},
    ]


def test_accepts_pngs_directly_in_root(tmp_path):
    write_pngs(tmp_path, ["MCUCXR_0001_0.png"])
    assert [(r["id"], r["label"]) for r in read_tb_cxr(tmp_path)] == [("MCUCXR_0001_0", 0)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CHNCXR_0003_2.png", r"CHNCXR_0003_2\.png: label digit 2 is not 0 \(normal\) or 1 \(TB\)"),
        ("CHNCXR_0003.png", r"CHNCXR_0003\.png: file name does not end in _0 \(normal\) or _1 \(TB\)"),
        ("chest.png", r"chest\.png: file name does not end in _0"),
    ],
)
def test_unlabelled_file_names_are_named(tmp_path, name, expected):
    write_pngs(tmp_path / "CXR_png", ["CHNCXR_0001_0.png", name])
    with pytest.raises(ValueError, match=expected):
        read_tb_cxr(tmp_path)
    log = ProblemLog("skip")
    assert [r["id"] for r in read_tb_cxr(tmp_path, problems=log)] == ["CHNCXR_0001_0"]
    assert [Path(p.file).name for p in log.problems] == [name]


def test_no_images_is_a_problem(tmp_path):
    with pytest.raises(ValueError, match=r"no PNG images found"):
        read_tb_cxr(tmp_path)
