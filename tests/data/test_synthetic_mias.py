"""Synthetic MIAS: Info.txt as distributed, Y measured from the bottom edge, abnormality at the written centre."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from monai_weakloc.data.synthetic import synthesize_mias
from monai_weakloc.data.synthetic.mammogram import MIAS_CLASSES

SIZE = 96


@pytest.fixture(scope="module")
def mias_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize_mias(tmp_path_factory.mktemp("mias") / "ds", num_images=16, seed=5, image_size=SIZE)


def _info(root: Path) -> list[list[str]]:
    return [line.split() for line in (root / "Info.txt").read_text().splitlines()]


def test_info_lines_and_pgm_images(mias_root: Path) -> None:
    lines = _info(mias_root)
    assert [tokens[0] for tokens in lines] == [f"mdb{number:03d}" for number in range(1, 17)]
    for tokens in lines:
        assert tokens[1] in {"F", "G", "D"} and tokens[2] in MIAS_CLASSES
        assert len(tokens) == (3 if tokens[2] == "NORM" else 7)
        if tokens[2] != "NORM":
            assert tokens[3] in {"B", "M"} and all(token.isdigit() for token in tokens[4:])
    assert set(Counter(tokens[2] for tokens in lines)) == set(MIAS_CLASSES)
    header = (mias_root / "mdb001.pgm").read_bytes()[:2]
    assert header == b"P5"
    assert Image.open(mias_root / "mdb001.pgm").size == (SIZE, SIZE)


def test_abnormality_is_brightest_at_x_and_height_minus_y(mias_root: Path) -> None:
    checked = 0
    for tokens in _info(mias_root):
        if tokens[2] == "NORM":
            continue
        x, y, radius = (int(token) for token in tokens[4:7])
        image = np.asarray(Image.open(mias_root / f"{tokens[0]}.pgm"), dtype=np.float32)
        smooth = ndimage.gaussian_filter(image, sigma=radius / 2.0)
        row = SIZE - y
        rows, cols = np.ogrid[:SIZE, :SIZE]
        distance = np.hypot(rows - row, cols - x)
        peak = np.unravel_index(int(np.argmax(np.where(distance <= 2 * radius, smooth, -1.0))), smooth.shape)
        assert np.hypot(peak[0] - row, peak[1] - x) <= max(2.0, radius / 2.0), tokens
        ring = smooth[(distance >= 1.5 * radius) & (distance <= 2.5 * radius) & (image > 20)]
        assert smooth[row, x] > np.median(ring) + 10, f"{tokens[0]}: no bright blob at (X, H - Y)"
        checked += 1
    assert checked >= 10
