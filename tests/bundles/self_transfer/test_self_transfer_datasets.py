"""self_transfer's dataset overrides end to end, tiny: mammography.json (CBIS-DDSM -> MIAS) and chestxray14.json."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monai_weakloc.data import CHESTXRAY14_LABELS

CONFIGS = Path(__file__).resolve().parents[3] / "bundles" / "self_transfer" / "configs"
TINY = ("synthetic#num_images=16", "synthetic#image_size=128", "image_size=128", "max_epochs=2", "batch_size=8",
        "write_nifti=False")


def _run(root: Path, override: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "monai_weakloc.cli", "bundle", "run", "self_transfer", "--quick",
               "--override", str(CONFIGS / override), "--bundle-root", str(root)]
    for arg in (*TINY, *args):
        command += ["--arg", arg]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, "WEAKLOC_CACHE_DIR": str(root / "cache")})


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_mammography_trains_on_cbis_ddsm_and_is_tested_on_mias(tmp_path):
    result = _run(tmp_path, "mammography.json", "test_synthetic#num_images=16")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outputs = tmp_path / "outputs"
    assert (tmp_path / "models" / "model.pt").is_file()
    rows = _rows(outputs / "predictions.csv")
    assert rows and list(rows[0]) == ["image", "label", "prob_0", "prob_1"]
    # the test images are the abnormal MIAS films (mdbNNN), label 1 where malignant
    assert all(row["image"].startswith("mdb") for row in rows)
    for row in rows:
        assert (outputs / "heatmaps" / f"{row['image']}_malignant.png").is_file()
    grades = {row["image"]: row["level"] for row in _rows(outputs / "truth" / "grades.csv")}
    assert set(grades) == {row["image"] for row in rows} and set(grades.values()) == {"0", "1"}
    truth_boxes = _rows(outputs / "truth" / "lesion_boxes.csv")
    malignant = {image for image, level in grades.items() if level == "1"}
    assert truth_boxes and {box["image"] for box in truth_boxes} <= malignant
    assert {box["label"] for box in truth_boxes} == {"malignant"}
    metrics = json.loads((outputs / "metrics.json").read_text())
    assert metrics["tasks"] == ["grades", "boxes", "pointing"]
    assert metrics["grades"]["num_images"] == len(rows)
    assert 0.0 <= metrics["grades"]["auc_mean"] <= 1.0
    assert metrics["pointing"]["num_positive_images"] == len({box["image"] for box in truth_boxes})
    assert "box_recall" in metrics["boxes"]


@pytest.mark.slow
def test_chestxray14_is_multi_label_with_the_official_split_and_the_box_list(tmp_path):
    result = _run(tmp_path, "chestxray14.json")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outputs = tmp_path / "outputs"
    rows = _rows(outputs / "predictions.csv")
    assert rows and list(rows[0]) == ["image", "labels", *CHESTXRAY14_LABELS]
    cache = next((tmp_path / "cache").glob("chestxray14_*"))
    official_test = {Path(name).stem for name in (cache / "test_list.txt").read_text().split()}
    assert {row["image"] for row in rows} == official_test
    for label in CHESTXRAY14_LABELS:
        assert (outputs / "heatmaps" / f"{rows[0]['image']}_{label}.png").is_file()
    metrics = json.loads((outputs / "metrics.json").read_text())
    assert metrics["tasks"] == ["labels", "boxes", "pointing"]
    assert len(metrics["labels"]["auc_per_label"]) == len(CHESTXRAY14_LABELS)
    assert "classes" in metrics["pointing"] and "mean_pointing_accuracy" in metrics["pointing"]
    assert "box_recall" in metrics["boxes"]
