"""saliency_crop's comparison models end to end on tiny settings: plain.json (the image network alone on whole images)
and sliding_window.json (the crop network's fully convolutional form over the full-resolution image) each train,
infer by the output contract and evaluate with evaluate.json."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFIGS = Path(__file__).parents[3] / "bundles" / "saliency_crop" / "configs"
TINY = {
    "synthetic#num_images": "40",
    "synthetic#image_size": "128",
    "image_size": "64",
    "crop_size": "40",
    "max_epochs": "1",
    "crop_max_epochs": "1",
}


def _run(root: Path, model: str, stage: str | None) -> str:
    names = ("train.json", *([stage] if stage else []), model, "quick.json")
    files = "[" + ",".join(f"'{CONFIGS / name}'" for name in names) + "]"
    command = [sys.executable, "-m", "monai.bundle", "run", *([] if stage else ["training"])]
    arguments = [part for key, value in TINY.items() for part in (f"--{key}", value)]
    result = subprocess.run(
        [*command, "--config_file", files, "--bundle_root", str(root), *arguments],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "WEAKLOC_CACHE_DIR": str(root.parent / "cache")},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _model_run(root: Path, model: str) -> Path:
    _run(root, model, None)
    _run(root, model, "inference.json")
    _run(root, model, "evaluate.json")
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("saliency_crop_models")


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _assert_predictions_and_grades(outputs: Path, heatmap: str) -> list[str]:
    rows = _rows(outputs / "predictions.csv")
    assert rows and list(rows[0]) == ["image", "level", "prob_0", "prob_1"]
    for row in rows:
        assert float(row["prob_0"]) + float(row["prob_1"]) == pytest.approx(1.0, abs=2e-6)
    images = [row["image"] for row in rows]
    for image in images:
        assert (outputs / "heatmaps" / f"{image}_{heatmap}.nii.gz").is_file()
        assert (outputs / "overlays" / f"{image}.png").is_file()
    metrics = json.loads((outputs / "metrics.json").read_text())
    assert metrics["grades"]["num_images"] == len(images)
    assert set(metrics["per_class_accuracy"]) == {"healthy", "unhealthy"}
    assert sum(map(sum, metrics["grade_confusion"]["counts"])) == len(images)
    return images


@pytest.mark.slow
def test_plain_network_trains_the_image_network_alone_and_scores_its_decision(runs):
    root = _model_run(runs / "plain", "plain.json")
    models = root / "models"
    assert list((models / "image_network").glob("*.pt"))
    assert not (models / "crops").exists() and not (models / "crop_network").exists()
    assert not (models / "threshold.json").exists()
    outputs = root / "outputs_plain"
    images = _assert_predictions_and_grades(outputs, "saliency")
    assert not (outputs / "boxes.csv").exists()
    assert [row["image"] for row in _rows(outputs / "points.csv")] == images
    metrics = json.loads((outputs / "metrics.json").read_text())
    assert "skipped" in metrics["boxes"] and "crop_lesion_share" not in metrics


@pytest.mark.slow
def test_sliding_window_writes_the_best_window_as_the_crop_and_scores_it(runs):
    root = _model_run(runs / "sliding_window", "sliding_window.json")
    assert list((root / "models" / "crop_network").glob("*.pt"))
    outputs = root / "outputs_sliding_window"
    images = _assert_predictions_and_grades(outputs, "sliding_window")
    boxes = _rows(outputs / "boxes.csv")
    assert [box["image"] for box in boxes] == images
    assert {box["label"] for box in boxes} == {"crop"}
    assert {(float(box["w"]), float(box["h"])) for box in boxes} == {(40.0, 40.0)}
    for row in _rows(outputs / "predictions.csv"):
        # the vote: the share of the 2 x 2 windows (128 px images, stride 64, 40 px windows) deciding unhealthy
        assert float(row["prob_1"]) * 4 == pytest.approx(round(float(row["prob_1"]) * 4), abs=1e-4)
    share = json.loads((outputs / "metrics.json").read_text())["crop_lesion_share"]
    assert share["num_images"] > 0 and 0 <= share["share"] <= 1 and 0 <= share["random_share"] <= 1
