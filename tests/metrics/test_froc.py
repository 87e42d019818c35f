"""Lesion-level FROC from probability maps: equal to ``monai.metrics.froc`` on the same detections."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from monai.metrics.froc import compute_fp_tp_probs, compute_froc_curve_data, compute_froc_score
from scipy import ndimage
from weakloc_metrics.froc import (
    CAMELYON16_FP_PER_IMAGE,
    ROC_FP_PER_IMAGE,
    HeatmapFROCMetric,
    compute_heatmap_froc,
    compute_lesion_hits,
    detect_heatmap_peaks,
)
from weakloc_metrics.handlers import HeatmapFROC


def _random_case(seed: int, num_images: int = 6, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random maps with a few bright blobs, and masks with a few square lesions."""
    rng = np.random.default_rng(seed)
    maps = ndimage.gaussian_filter(rng.random((num_images, size, size)), sigma=(0, 2, 2))
    maps = (maps - maps.min()) / (maps.max() - maps.min())
    masks = np.zeros((num_images, size, size), dtype=np.uint8)
    for index in range(num_images):
        for _ in range(rng.integers(0, 4)):
            row, col = rng.integers(0, size - 6, size=2)
            masks[index, row : row + 6, col : col + 6] = 1
            maps[index, row + 2 : row + 4, col + 2 : col + 4] = rng.uniform(0.5, 1.0)
    return maps.astype(np.float32), masks


def _monai_reference(maps: np.ndarray, masks: np.ndarray, threshold: float, eval_thresholds: tuple) -> tuple:
    """FROC with MONAI's own per-image loop on the same detections and scipy-labelled lesions."""
    fp_all, tp_all, targets = [], [], 0
    for prob_map, mask in zip(maps, masks):
        probs, coords = detect_heatmap_peaks(prob_map, threshold)
        lesions, _ = ndimage.label(mask, structure=np.ones((3, 3)))
        fp, tp, num = compute_fp_tp_probs(probs, coords[:, 0], coords[:, 1], lesions)
        fp_all.extend(fp)
        tp_all.extend(tp)
        targets += num
    fps, sens = compute_froc_curve_data(np.array(fp_all), np.array(tp_all), targets, len(maps))
    return compute_froc_score(fps, sens, eval_thresholds), fps, sens


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("preset", ["camelyon16", "roc"])
def test_random_maps_equal_monai(seed: int, preset: str) -> None:
    maps, masks = _random_case(seed)
    points = CAMELYON16_FP_PER_IMAGE if preset == "camelyon16" else ROC_FP_PER_IMAGE
    score, fps, sens = _monai_reference(maps, masks, 0.6, points)
    result = compute_heatmap_froc(maps, masks, detection_threshold=0.6, eval_thresholds=preset)
    assert result.score == pytest.approx(score, abs=1e-12)
    np.testing.assert_array_equal(result.fps_per_image, fps)
    np.testing.assert_array_equal(result.sensitivity, sens)
    assert result.eval_thresholds == points
    assert result.sensitivity_at_thresholds.mean() == pytest.approx(score, abs=1e-12)


def _blob(prob_map: np.ndarray, row: int, col: int, peak: float) -> None:
    """3 x 3 blob at 0.55 with its peak in the centre."""
    prob_map[row - 1 : row + 2, col - 1 : col + 2] = 0.55
    prob_map[row, col] = peak


def _hand_case() -> tuple[np.ndarray, np.ndarray]:
    maps = np.zeros((3, 32, 32), dtype=np.float32)
    masks = np.zeros((3, 32, 32), dtype=np.uint8)
    masks[0, 2:6, 2:6] = 1  # lesion A, hit once at 0.9
    masks[0, 20:26, 20:26] = 1  # lesion B, hit twice (0.8 and 0.6): counts once, at 0.8
    _blob(maps[0], 3, 3, 0.9)
    _blob(maps[0], 21, 21, 0.8)
    maps[0, 25, 25] = 0.6
    _blob(maps[0], 12, 28, 0.7)  # false positive
    _blob(maps[1], 16, 16, 0.95)  # image without lesion: a false positive only
    masks[2, 0:4, 28:32] = 1  # lesion touching two borders, no detection in the image
    return maps, masks


def test_hand_made_case() -> None:
    maps, masks = _hand_case()
    fp, tp, num = compute_lesion_hits(maps[0], masks[0])
    np.testing.assert_allclose(np.sort(fp), [0.7])
    np.testing.assert_allclose(tp, [0.9, 0.8], rtol=1e-6)
    assert num == 2
    result = compute_heatmap_froc(maps, masks, detection_threshold=0.5)
    third = 1 / 3
    np.testing.assert_allclose(result.fps_per_image, [2 * third, third, third, third, 0])
    np.testing.assert_allclose(result.sensitivity, [2 * third, 2 * third, third, 0, 0])
    assert result.num_lesions == 3 and result.num_images == 3
    np.testing.assert_allclose(result.sensitivity_at_thresholds, [0] + [2 * third] * 5)
    assert result.score == pytest.approx(5 / 9)
    assert compute_heatmap_froc(maps, masks, eval_thresholds="roc").score == pytest.approx(10 / 21)


def test_detection_is_component_maximum_first_on_ties() -> None:
    prob_map = np.zeros((8, 8), dtype=np.float32)
    prob_map[1:3, 1:4] = 0.7  # flat component: detected at its first pixel
    prob_map[5, 5] = 0.6
    prob_map[6, 6] = 0.9  # touches (5, 5) by a corner only
    probs, coords = detect_heatmap_peaks(prob_map, 0.5, connectivity=2)
    np.testing.assert_allclose(probs, [0.7, 0.9])
    np.testing.assert_array_equal(coords, [[1, 1], [6, 6]])
    probs, coords = detect_heatmap_peaks(prob_map, 0.5, connectivity=1)
    assert len(probs) == 3


def test_no_detection_counts_lesions_as_missed() -> None:
    maps, masks = _hand_case()
    result = compute_heatmap_froc(np.zeros_like(maps), masks)
    assert result.score == 0.0
    assert result.num_lesions == 3


def test_no_lesion_anywhere_gives_nan_with_warning() -> None:
    maps, _ = _hand_case()
    with pytest.warns(UserWarning, match="without lesions"):
        result = compute_heatmap_froc(maps, np.zeros(maps.shape, dtype=np.uint8))
    assert np.isnan(result.score)


def test_images_of_different_sizes_and_bad_input() -> None:
    maps, masks = _hand_case()
    small_map, small_mask = np.zeros((16, 20), np.float32), np.zeros((16, 20), np.uint8)
    result = compute_heatmap_froc([*maps, small_map], [*masks, small_mask])
    assert result.num_images == 4
    with pytest.raises(ValueError, match="image 1"):
        compute_heatmap_froc([maps[0], maps[1]], [masks[0], masks[1][:10]])
    with pytest.raises(ValueError, match="unknown preset 'froc'"):
        compute_heatmap_froc(maps, masks, eval_thresholds="froc")
    with pytest.raises(ValueError, match="detection_threshold"):
        compute_heatmap_froc(maps, masks, detection_threshold=0.0)


def test_cumulative_over_batches_equals_one_shot() -> None:
    maps, masks = _random_case(3, num_images=7)
    metric = HeatmapFROCMetric(detection_threshold=0.6, eval_thresholds="roc")
    for start in range(0, 7, 3):
        batch = slice(start, start + 3)
        metric(y_pred=torch.from_numpy(maps[batch, None]), y=torch.from_numpy(masks[batch, None]))
    expected = compute_heatmap_froc(maps, masks, detection_threshold=0.6, eval_thresholds="roc")
    assert metric.aggregate() == expected.score
    np.testing.assert_array_equal(metric.aggregate_result().sensitivity, expected.sensitivity)
    metric.reset()
    metric(y_pred=[torch.from_numpy(m[None]) for m in maps], y=[torch.from_numpy(m[None]) for m in masks])
    assert metric.aggregate() == expected.score


def test_handler_on_engine() -> None:
    maps, masks = _random_case(4, num_images=6)
    batches = [(torch.from_numpy(maps[i : i + 2, None]), torch.from_numpy(masks[i : i + 2, None])) for i in (0, 2, 4)]
    engine = Engine(lambda engine, batch: batch)
    HeatmapFROC(detection_threshold=0.6).attach(engine, "froc")
    engine.run(batches)
    assert engine.state.metrics["froc"] == pytest.approx(compute_heatmap_froc(maps, masks, 0.6).score, abs=1e-12)
