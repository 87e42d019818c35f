"""Evaluation plots: each writes a non-empty PNG, also for an undefined curve; bad shapes are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_weakloc.report.plots import (
    plot_confusion_matrix,
    plot_froc_curve,
    plot_iom_recall_curves,
    plot_precision_recall_curves,
    plot_roc_curves,
)


def assert_png(path: Path) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 100 and image.size[1] > 100
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 0  # something was drawn


def test_every_plot_writes_a_png(tmp_path: Path) -> None:
    grid = np.linspace(0.05, 1, 20)
    paths = [
        plot_confusion_matrix(np.array([[3, 1], [0, 2]]), ["0", "1"], tmp_path / "cm.png"),
        plot_roc_curves({"a": (np.array([0, 0.5, 1]), np.array([0, 0.8, 1]))}, tmp_path / "roc.png"),
        plot_precision_recall_curves({"a": (np.array([0, 0.5, 1]), np.array([1, 0.7, 0.2]))}, tmp_path / "pr.png"),
        plot_froc_curve(
            np.array([8.0, 1.0, 0.0]), np.array([0.9, 0.5, 0.0]), tmp_path / "sub" / "froc.png", {"p": ([1.0], [0.5])}
        ),
        plot_iom_recall_curves(
            grid, {"box": 1 - grid / 2, "baseline": grid * 0}, tmp_path / "iom.png", dashed=["baseline"]
        ),
    ]
    for path in paths:
        assert_png(path)


def test_undefined_curve_still_gives_a_plot(tmp_path: Path) -> None:
    path = plot_roc_curves({"undefined": (np.array([np.nan]), np.array([np.nan]))}, tmp_path / "roc.png")
    assert_png(path)


def test_confusion_matrix_must_match_the_class_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\(K, K\) with K = 3 class names, got shape \(2, 2\)"):
        plot_confusion_matrix(np.eye(2), ["0", "1", "2"], tmp_path / "cm.png")
