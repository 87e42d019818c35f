"""Zoom-in-Net end to end with quick.json, as the README's main job runs it: train, infer, evaluate."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from monai_weakloc.data import read_eyepacs

NUM_HEATMAPS = 4  # gated attention maps of grades 1..4


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zoom_in_net_quick")
    env_cache = root / "cache"
    result = subprocess.run(
        [sys.executable, "-m", "monai_weakloc.cli", "bundle", "run", "zoom_in_net", "--quick", "--bundle-root", str(root)],
        capture_output=True, text=True, env={**__import__("os").environ, "WEAKLOC_CACHE_DIR": str(env_cache)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"metrics.json and plots are in {root / 'outputs'}" in result.stdout
    assert re.search(r'"referable_auc": [0-9.]+', result.stdout), result.stdout[-3000:]
    assert f"predictions, boxes, heatmaps and overlays are in {root / 'outputs'}" in result.stdout
    assert f"heatmaps are in {root / 'outputs' / 'heatmaps'} and overlays in {root / 'outputs' / 'overlays'}" in result.stdout
    return root


@pytest.mark.slow
def test_quick_run_writes_every_output(quick_run):
    outputs = quick_run / "outputs"
    dataset = next((quick_run / "cache").glob("eyepacs_*"))
    test_ids = sorted(r["id"] for r in read_eyepacs(dataset, splits="test"))
    with open(outputs / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["image"] for r in rows) == test_ids
    assert all(abs(sum(float(r[f"prob_{k}"]) for k in range(5)) - 1) < 1e-4 for r in rows)
    for image_id in test_ids:
        for grade in range(1, NUM_HEATMAPS + 1):
            assert (outputs / "heatmaps" / f"{image_id}_grade{grade}.png").is_file()
            assert (outputs / "heatmaps" / f"{image_id}_grade{grade}.nii.gz").is_file()
        assert (outputs / "overlays" / f"{image_id}.png").is_file()
    with open(outputs / "boxes.csv", newline="") as handle:
        boxes = list(csv.DictReader(handle))
    assert {b["image"] for b in boxes} == set(test_ids)
    assert all(len([b for b in boxes if b["image"] == i]) <= 4 for i in test_ids)
    for plot in ("confusion_matrix.png", "roc.png", "iom_recall.png", "pointing_pr.png"):
        assert (outputs / plot).stat().st_size > 1000
    assert (quick_run / "models" / "model.pt").is_file()


@pytest.mark.slow
def test_quick_run_grades_held_out_images(quick_run):
    metrics = json.loads((quick_run / "outputs" / "metrics.json").read_text())
    assert metrics["tasks"] == ["grades", "boxes", "pointing"]
    assert metrics["grades"]["quadratic_weighted_kappa"] >= 0.6, metrics["grades"]


@pytest.mark.slow
def test_quick_run_regions_hit_more_lesions_than_random_boxes(quick_run):
    localization = json.loads((quick_run / "outputs" / "metrics.json").read_text())["boxes"]
    assert localization["num_boxes"] == 4 and localization["iom_threshold"] == 0.3
    baseline = localization["random_baseline"]
    assert baseline["draws"] == 100
    # the bundle's target: the regions hit at least 0.2 more of the lesion boxes than random boxes do
    margin = localization["box_recall"] - baseline["box_recall"]
    assert margin >= 0.2, (localization["box_recall"], baseline["box_recall"])
    assert localization["person_recall"] >= baseline["person_recall"]
