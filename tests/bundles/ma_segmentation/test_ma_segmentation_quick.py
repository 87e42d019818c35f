"""ma_segmentation end to end with quick.json: three stages trained, whole test images inferred, masks scored."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_weakloc.data import read_idrid

MAPS = ("hgn_1x", "hgn_05x", "fused", "final")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ma_segmentation_quick")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "monai_weakloc.cli",
            "bundle",
            "run",
            "ma_segmentation",
            "--quick",
            "--bundle-root",
            str(root),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "WEAKLOC_CACHE_DIR": str(root / "cache")},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"predictions, masks, points, heatmaps and overlays are in {root / 'outputs'}" in result.stdout
    assert "| final |" in result.stdout
    return root


@pytest.mark.slow
def test_quick_run_writes_the_output_contract_for_every_test_image(quick_run):
    outputs = quick_run / "outputs"
    dataset = next((quick_run / "cache").glob("idrid_*"))
    test_ids = sorted(r["id"] for r in read_idrid(dataset, task="segmentation") if r["split"] == "test")
    with open(outputs / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["image"] for row in rows) == test_ids
    assert list(rows[0]) == ["image", "label", "prob_0", "prob_1"]
    for image_id in test_ids:
        size = Image.open(next(dataset.rglob(f"{image_id}.jpg"))).size
        for name in MAPS:
            assert (outputs / "heatmaps" / f"{image_id}_{name}.nii.gz").is_file()
        binary = np.asarray(Image.open(outputs / "masks" / f"{image_id}_MA.png"))
        assert binary.shape == size[::-1] and set(np.unique(binary)) <= {0, 255}
        assert (outputs / "masks" / f"{image_id}_MA.nii.gz").is_file()
        assert (outputs / "overlays" / f"{image_id}.png").is_file()
    with open(outputs / "points.csv", newline="") as handle:
        points = list(csv.DictReader(handle))
    assert points and {point["label"] for point in points} == {"MA"}
    for plot in ("pr.png", "froc.png", "ablation_pr.png"):
        assert (outputs / plot).stat().st_size > 1000
    for stage in ("hgn_1x", "hgn_05x", "prn"):
        assert (quick_run / "models" / stage / "model.pt").is_file()


@pytest.mark.slow
def test_quick_final_map_segments_microaneurysms_far_above_no_skill(quick_run):
    metrics = json.loads((quick_run / "outputs" / "metrics.json").read_text())
    masks = metrics["masks"]
    assert metrics["tasks"] == ["masks"] and masks["mask_label"] == "MA" and masks["pooling"] == "all"
    no_skill = masks["pixel_pr"]["all"]["no_skill_average_precision"]
    assert no_skill < 0.01
    # the bar: the final map's pooled AUC-PR at least 0.3 (three seeds give 0.8 and more, README)
    assert masks["auc_pr"] >= 0.3 and masks["average_precision"] >= 0.3
    assert set(masks["ablation"]) == set(MAPS)
    assert masks["ablation"]["final"]["average_precision"] == pytest.approx(masks["average_precision"])
    assert masks["froc_roc"] > 0.5
