from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from monai_weakloc.data import READERS, ProblemLog, read_csv, read_dataset, read_tb_cxr


def test_every_layout_has_a_reader():
    assert sorted(READERS) == sorted(
        ["eyepacs", "messidor", "idrid", "chestxray14", "tb_cxr", "mias", "cbis_ddsm", "csv", "lesion_boxes"]
    )
    assert READERS["csv"] is read_csv and READERS["tb_cxr"] is read_tb_cxr


def test_read_dataset_passes_options_and_shares_one_problem_log(tmp_path):
    Image.new("L", (32, 32)).save(tmp_path / "a.png")
    (tmp_path / "labels.csv").write_text("image,label\na.png,1\nb.png,0\na.png,7\n")
    (tmp_path / "cxr").mkdir()
    Image.new("L", (32, 32)).save(tmp_path / "cxr" / "CHNCXR_0001_5.png")
    log = ProblemLog("skip")
    records = read_dataset("csv", tmp_path, problems=log, num_classes=2)
    assert records == [{"image": str(tmp_path / "a.png"), "id": "a", "label": 1}]
    assert read_dataset("tb_cxr", tmp_path / "cxr", problems=log) == []
    assert [(Path(p.file).name, p.row, p.message) for p in log.problems] == [
        ("labels.csv", 3, f"image file not found: {tmp_path / 'b.png'}"),
        ("labels.csv", 4, "label 7 is out of range 0..1"),
        ("CHNCXR_0001_5.png", None, "label digit 5 is not 0 (normal) or 1 (TB)"),
    ]

def test_unknown_layout_names_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown dataset layout 'kaggle'; known layouts: eyepacs, messidor"):
        read_dataset("kaggle", tmp_path)
