"""Image ids, ``metrics.json`` values and image sizes of the evaluation package."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_weakloc.evaluation import image_id, read_image_sizes, write_metrics_json


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("train/10_left.jpeg", "10_left"),
        ("10_left", "10_left"),
        ("heatmaps/IDRiD_01.nii.gz", "IDRiD_01"),
        ("00000001_000.PNG", "00000001_000"),
        ("C:\\data\\mdb001.pgm", "mdb001"),
        ("1.2.840.113619", "1.2.840.113619"),  # no image suffix: the dots stay
    ],
)
def test_image_id_strips_folder_and_image_suffix(name: str, expected: str) -> None:
    assert image_id(name) == expected


def test_metrics_json_writes_nan_as_null_and_numpy_as_numbers(tmp_path: Path) -> None:
    metrics = {"auc": np.float64("nan"), "count": np.int64(3), "curve": np.array([0.5, np.inf]), "nested": {1: True}}
    path = write_metrics_json(metrics, tmp_path / "new" / "folder")
    assert json.loads(path.read_text()) == {"auc": None, "count": 3, "curve": [0.5, None], "nested": {"1": True}}
    assert path.read_text().startswith("{\n  ")  # pretty-printed
    with pytest.raises(TypeError, match="cannot write a object"):
        write_metrics_json({"bad": object()}, tmp_path)


def test_image_sizes_come_from_the_headers(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((30, 50), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((20, 10, 3), dtype=np.uint8)).save(tmp_path / "b.jpeg")
    assert read_image_sizes(tmp_path, ["a", "b"]) == {"a": (30, 50), "b": (20, 10)}
    with pytest.raises(ValueError, match=r"no image file for 1 image\(s\): 'c'"):
        read_image_sizes(tmp_path, ["a", "c"])
    Image.fromarray(np.zeros((5, 5), dtype=np.uint8)).save(tmp_path / "a.tif")
    with pytest.raises(ValueError, match=r"image 'a' is ambiguous: a.png, a.tif"):
        read_image_sizes(tmp_path, ["a"])
