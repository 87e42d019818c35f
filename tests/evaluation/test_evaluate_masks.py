"""``evaluate_masks``: pixel PR and lesion FROC from mask and map folders equal the metrics on the arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import f1_score
from weakloc_metrics.froc import compute_heatmap_froc
from weakloc_metrics.segmentation_pr import compute_pixel_pr

from monai_weakloc.evaluation import evaluate_masks

SIZE = (32, 40)


def make_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A mask with two lesions and a noisy 8-bit map that is brighter on them."""
    generator = np.random.default_rng(seed)
    mask = np.zeros(SIZE, dtype=bool)
    mask[4:8, 5:9] = True
    mask[20:23, 25:30] = True
    levels = generator.integers(0, 140, SIZE)
    levels[mask] = generator.integers(90, 256, int(mask.sum()))
    return mask, levels.astype(np.uint8)


def write_folders(tmp_path: Path, count: int = 3) -> tuple[Path, Path, list[np.ndarray], list[np.ndarray]]:
    truth_dir, pred_dir = tmp_path / "truth", tmp_path / "pred"
    truth_dir.mkdir()
    pred_dir.mkdir()
    masks, maps = [], []
    for index in range(count):
        mask, levels = make_pair(index)
        # IDRiD-style RGB mask with the lesion in the red channel
        rgb = np.zeros((*SIZE, 3), dtype=np.uint8)
        rgb[mask, 0] = 255
        Image.fromarray(rgb).save(truth_dir / f"IDRiD_{index:02d}.tif")
        if index == 0:
            np.save(pred_dir / f"IDRiD_{index:02d}.npy", levels.astype(np.float32) / 255)
        else:
            Image.fromarray(levels).save(pred_dir / f"IDRiD_{index:02d}.png")
        masks.append(mask)
        maps.append(levels.astype(np.float32) / 255)
    return truth_dir, pred_dir, masks, maps


@pytest.mark.parametrize("pooling", ["all", "mean"])
def test_values_equal_the_metric_functions_on_the_arrays(tmp_path: Path, pooling: str) -> None:
    truth_dir, pred_dir, masks, maps = write_folders(tmp_path)
    metrics = evaluate_masks(truth_dir, pred_dir, threshold=0.5, pooling=pooling, detection_threshold=0.3)
    expected = compute_pixel_pr(maps, masks, threshold=0.5, pooling=pooling, num_bins=1000)
    for name in ("average_precision", "auc_pr", "f1", "precision", "recall"):
        assert metrics[name] == pytest.approx(getattr(expected, name)), name
    if pooling == "all":
        pooled_truth = np.concatenate([m.ravel() for m in masks])
        pooled_maps = np.concatenate([m.ravel() for m in maps])
        assert metrics["f1"] == pytest.approx(f1_score(pooled_truth, pooled_maps >= 0.5))
    for preset in ("camelyon16", "roc"):
        froc = compute_heatmap_froc(maps, masks, detection_threshold=0.3, eval_thresholds=preset)
        assert metrics[f"froc_{preset}"] == pytest.approx(froc.score)
        assert metrics["froc"][preset]["sensitivity"] == pytest.approx(froc.sensitivity_at_thresholds.tolist())
    assert metrics["froc_score"] == pytest.approx(metrics["froc_roc"])
    assert metrics["num_lesions"] == 6 and metrics["num_images"] == 3


def test_writes_metrics_json_and_plots(tmp_path: Path) -> None:
    truth_dir, pred_dir, _, _ = write_folders(tmp_path, count=2)
    metrics = evaluate_masks(truth_dir, pred_dir, out_dir=tmp_path / "out", eval_thresholds="camelyon16")
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["froc"]["eval_thresholds"] == "camelyon16"
    assert saved["froc_score"] == pytest.approx(metrics["froc_camelyon16"])
    assert saved["froc"]["roc"]["fps_per_image"] == [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    for name in ("pr.png", "froc.png"):
        assert (tmp_path / "out" / name).read_bytes()[:4] == b"\x89PNG"


def test_unmatched_files_are_listed(tmp_path: Path) -> None:
    truth_dir, pred_dir, _, _ = write_folders(tmp_path, count=2)
    (pred_dir / "IDRiD_01.png").rename(pred_dir / "IDRiD_01_MA.png")
    with pytest.raises(ValueError, match=r"2 file\(s\) without a partner.*IDRiD_01\.tif.*IDRiD_01_MA\.png"):
        evaluate_masks(truth_dir, pred_dir)


def test_size_mismatch_and_bad_maps_name_the_files(tmp_path: Path) -> None:
    truth_dir, pred_dir, _, _ = write_folders(tmp_path, count=2)
    Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(pred_dir / "IDRiD_01.png")
    with pytest.raises(ValueError, match=r"IDRiD_01\.png: map size \(16, 16\) differs from mask .*IDRiD_01\.tif"):
        evaluate_masks(truth_dir, pred_dir)
    Image.fromarray(np.zeros((*SIZE, 3), dtype=np.uint8)).save(pred_dir / "IDRiD_01.png")
    with pytest.raises(ValueError, match=r"IDRiD_01\.png: a probability map must have one channel, got 3"):
        evaluate_masks(truth_dir, pred_dir)
    (pred_dir / "IDRiD_01.png").unlink()
    np.save(pred_dir / "IDRiD_01.npy", np.full(SIZE, 2.0))
    with pytest.raises(ValueError, match=r"IDRiD_01\.npy: probabilities must lie in \[0, 1\]"):
        evaluate_masks(truth_dir, pred_dir)
    with pytest.raises(FileNotFoundError, match="prediction map folder not found"):
        evaluate_masks(truth_dir, tmp_path / "missing")


def test_float_tiff_maps_are_probabilities_and_16_bit_maps_are_refused(tmp_path: Path) -> None:
    truth_dir, pred_dir, masks, maps = write_folders(tmp_path, count=2)
    (pred_dir / "IDRiD_01.png").unlink()
    Image.fromarray(maps[1]).save(pred_dir / "IDRiD_01.tif")  # float32: PIL mode F
    metrics = evaluate_masks(truth_dir, pred_dir)
    assert metrics["average_precision"] == pytest.approx(compute_pixel_pr(maps, masks, num_bins=1000).average_precision)
    (pred_dir / "IDRiD_01.tif").unlink()
    Image.fromarray((maps[1] * 65535).astype(np.uint16)).save(pred_dir / "IDRiD_01.png")
    with pytest.raises(ValueError, match=r"IDRiD_01\.png: image mode 'I;16' is not an 8-bit or float map"):
        evaluate_masks(truth_dir, pred_dir)
