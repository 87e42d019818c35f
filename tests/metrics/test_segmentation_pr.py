"""Pixel-level PR: exact mode equals sklearn, binned mode equals sklearn on binned scores and is close to exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from sklearn.metrics import (
    auc,
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
)
from weakloc_metrics.handlers import PixelPR
from weakloc_metrics.segmentation_pr import PixelPRMetric, compute_pixel_pr


def _random_maps(seed: int, num_images: int = 5, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities that are informative but noisy, and sparse binary masks."""
    rng = np.random.default_rng(seed)
    masks = (rng.random((num_images, size, size)) < 0.08).astype(np.uint8)
    maps = np.clip(0.35 * masks + 0.65 * rng.random((num_images, size, size)), 0, 1).astype(np.float32)
    return maps, masks


def _sklearn_values(prob: np.ndarray, label: np.ndarray) -> np.ndarray:
    prob, label = prob.ravel(), label.ravel()
    precision, recall, _ = precision_recall_curve(label, prob)
    predicted = prob >= 0.5
    return np.array(
        [
            average_precision_score(label, prob),
            auc(recall, precision),
            f1_score(label, predicted),
            precision_score(label, predicted),
            recall_score(label, predicted),
        ]
    )


def _values(result) -> np.ndarray:
    return np.array([result.average_precision, result.auc_pr, result.f1, result.precision, result.recall])


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_pooled_equals_sklearn(seed: int) -> None:
    maps, masks = _random_maps(seed)
    result = compute_pixel_pr(maps, masks, pooling="all")
    np.testing.assert_allclose(_values(result), _sklearn_values(maps, masks), rtol=0, atol=1e-10)


def test_exact_mean_equals_mean_of_per_image_sklearn() -> None:
    maps, masks = _random_maps(2)
    result = compute_pixel_pr(maps, masks, pooling="mean")
    expected = np.mean([_sklearn_values(p, t) for p, t in zip(maps, masks)], axis=0)
    np.testing.assert_allclose(_values(result), expected, rtol=0, atol=1e-10)
    pooled = compute_pixel_pr(maps, masks, pooling="all")
    assert abs(pooled.average_precision - result.average_precision) > 1e-6  # the pooling changes the value


@pytest.mark.parametrize("pooling", ["all", "mean"])
def test_binned_is_sklearn_on_binned_scores_and_close_to_exact(pooling: str) -> None:
    maps, masks = _random_maps(3)
    binned = compute_pixel_pr(maps, masks, pooling=pooling, num_bins=1000)
    exact = compute_pixel_pr(maps, masks, pooling=pooling)
    np.testing.assert_allclose(_values(binned), _values(exact), rtol=0, atol=1e-3)
    # with 1000 bins the threshold counts stay exact
    assert (binned.f1, binned.precision, binned.recall) == (exact.f1, exact.precision, exact.recall)
    quantized = np.minimum((maps.astype(np.float64) * 10).astype(np.int64), 9) / 10
    coarse = compute_pixel_pr(maps, masks, pooling=pooling, num_bins=10)
    on_quantized = compute_pixel_pr(quantized, masks, pooling=pooling)
    np.testing.assert_allclose(
        [coarse.average_precision, coarse.auc_pr],
        [on_quantized.average_precision, on_quantized.auc_pr],
        rtol=0,
        atol=1e-10,
    )


def test_mean_pooling_leaves_out_images_without_positive_pixel() -> None:
    maps, masks = _random_maps(4, num_images=4)
    masks[2] = 0
    with pytest.warns(UserWarning, match="1 image\\(s\\) without a positive pixel left out: 2"):
        result = compute_pixel_pr(maps, masks, pooling="mean", num_bins=100)
    assert (result.num_images, result.num_images_used) == (4, 3)
    kept = [0, 1, 3]
    expected = compute_pixel_pr(maps[kept], masks[kept], pooling="mean", num_bins=100)
    assert result.average_precision == expected.average_precision
    with pytest.warns(UserWarning, match="without positive pixels"):
        empty = compute_pixel_pr(maps, np.zeros_like(masks), pooling="all")
    assert np.isnan(empty.average_precision)


def test_bad_input_names_the_image() -> None:
    maps, masks = _random_maps(5, num_images=3)
    bad_maps = maps.copy()
    bad_maps[1, 0, 0] = 1.5
    with pytest.raises(ValueError, match="image 1: y_pred must hold probabilities"):
        compute_pixel_pr(bad_maps, masks)
    bad_masks = masks.astype(np.float32)
    bad_masks[2, 3, 3] = 0.5
    with pytest.raises(ValueError, match="image 2: y must be binary"):
        compute_pixel_pr(maps, bad_masks)
    with pytest.raises(ValueError, match="pooling"):
        compute_pixel_pr(maps, masks, pooling="median")


@pytest.mark.parametrize("num_bins", [None, 200])
@pytest.mark.parametrize("pooling", ["all", "mean"])
def test_cumulative_over_batches_equals_one_shot(num_bins: int | None, pooling: str) -> None:
    maps, masks = _random_maps(6, num_images=6, size=32)
    expected = compute_pixel_pr(maps, masks, pooling=pooling, num_bins=num_bins)
    metric = PixelPRMetric(pooling=pooling, num_bins=num_bins, metric_name="auc_pr")
    for start in (0, 2, 4):
        batch = slice(start, start + 2)
        metric(y_pred=torch.from_numpy(maps[batch, None]), y=torch.from_numpy(masks[batch, None]))
    assert metric.aggregate() == pytest.approx(expected.auc_pr, abs=1e-12)
    assert metric.aggregate_result().average_precision == pytest.approx(expected.average_precision, abs=1e-12)


def test_binned_metric_keeps_histograms_not_pixels() -> None:
    maps, masks = _random_maps(7, num_images=2, size=64)
    metric = PixelPRMetric(num_bins=50)
    metric(y_pred=torch.from_numpy(maps[:, None]), y=torch.from_numpy(masks[:, None]))
    assert tuple(metric.get_buffer().shape) == (2, 2 * 50 + 3)
    exact = PixelPRMetric(num_bins=None)
    exact(y_pred=torch.from_numpy(maps[:1, None]), y=torch.from_numpy(masks[:1, None]))
    with pytest.raises(ValueError, match="one size"):
        exact(y_pred=torch.from_numpy(maps[:1, None, :32]), y=torch.from_numpy(masks[:1, None, :32]))


def test_handler_on_engine() -> None:
    maps, masks = _random_maps(8, num_images=4, size=32)
    batches = [(torch.from_numpy(maps[i : i + 2, None]), torch.from_numpy(masks[i : i + 2, None])) for i in (0, 2)]
    engine = Engine(lambda engine, batch: batch)
    PixelPR(metric_name="f1", num_bins=None).attach(engine, "f1")
    engine.run(batches)
    assert engine.state.metrics["f1"] == pytest.approx(f1_score(masks.ravel(), maps.ravel() >= 0.5), abs=1e-12)
