"""MaxBoxAcc v1/v2 on hand-made heatmaps whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weakloc_metrics.maxboxacc import (
    MaxBoxAccuracyMetric,
    compute_box_accuracy_curves,
    compute_max_box_accuracy,
    heatmap_boxes,
    normalize_heatmap,
)


def _two_blob_image() -> tuple[np.ndarray, np.ndarray]:
    """The lesion (rows/cols 2..9) is hot; a larger decoy (rows/cols 16..29) is warm (0.7 -> 8 bit 178)."""
    heatmap = np.zeros((32, 32))
    heatmap[2:10, 2:10] = 1.0
    heatmap[16:30, 16:30] = 0.7
    return heatmap, np.array([[2.0, 2.0, 8.0, 8.0]])


def _core_and_halo_image() -> tuple[np.ndarray, np.ndarray]:
    """The lesion is the whole halo (rows/cols 8..19, 0.3 -> 8 bit 76); only its core (12..15) is hot."""
    heatmap = np.zeros((32, 32))
    heatmap[8:20, 8:20] = 0.3
    heatmap[12:16, 12:16] = 1.0
    return heatmap, np.array([[8.0, 8.0, 12.0, 12.0]])


def test_boxes_follow_the_reference_convention() -> None:
    heatmap, _ = _two_blob_image()
    normalized = normalize_heatmap(heatmap)
    # component columns 2..9 -> inclusive box x0 = 2, x1 = 9 + 1 = 10, i.e. x, y, w, h = 2, 2, 9, 9
    np.testing.assert_array_equal(heatmap_boxes(normalized, 0.8, every_component=False), [[2, 2, 9, 9]])
    # below 0.7 the larger decoy (columns 16..29) is the largest component
    np.testing.assert_array_equal(heatmap_boxes(normalized, 0.5, every_component=False), [[16, 16, 15, 15]])
    assert heatmap_boxes(normalized, 0.5, every_component=True).shape == (2, 4)


def test_box_touching_the_image_border_is_clipped_and_empty_map_gives_the_corner_pixel() -> None:
    heatmap = np.zeros((32, 32))
    heatmap[24:32, 20:32] = 1.0  # touches the right and bottom borders
    np.testing.assert_array_equal(heatmap_boxes(normalize_heatmap(heatmap), 0.5, False), [[20, 24, 12, 8]])
    constant = normalize_heatmap(np.full((16, 16), 3.0))
    assert not constant.any()
    np.testing.assert_array_equal(heatmap_boxes(constant, 0.0, True), [[0, 0, 1, 1]])


def test_v2_boxes_the_border_of_a_hole() -> None:
    heatmap = np.zeros((32, 32))
    heatmap[2:30, 2:30] = 1.0
    heatmap[10:22, 10:22] = 0.0
    # the ring's outer border (columns 2..29 -> x1 = 30) and its hole's border, through the ring pixels
    # around the hole (columns 9..22 -> x1 = 23); v1 keeps the outer border only (IoU 225 / 841)
    np.testing.assert_array_equal(
        heatmap_boxes(normalize_heatmap(heatmap), 0.5, every_component=True), [[2, 2, 29, 29], [9, 9, 15, 15]]
    )
    lesion = np.array([[9.0, 9.0, 15.0, 15.0]])
    assert compute_max_box_accuracy([heatmap], [lesion], version=2) == pytest.approx(1.0)
    assert compute_max_box_accuracy([heatmap], [lesion], version=1) == pytest.approx(0.0)


def test_v1_ranks_contours_by_polygon_area_not_pixel_count() -> None:
    heatmap = np.zeros((32, 32))
    heatmap[30, 2:22] = 1.0  # 20 pixels, a border polygon of area 0
    heatmap[2:5, 2:5] = 1.0  # 9 pixels, a 2 x 2 polygon through the border pixels' centres
    boxes = heatmap_boxes(normalize_heatmap(heatmap), 0.5, every_component=False)
    np.testing.assert_array_equal(boxes, [[2, 2, 4, 4]])


def test_v1_keeps_the_component_opencv_lists_first_on_equal_areas() -> None:
    heatmap = np.zeros((32, 32))
    heatmap[2:6, 20:24] = 1.0
    heatmap[20:24, 2:6] = 1.0
    # OpenCV lists the components in reverse raster order of their first pixel: the lower square first
    boxes = heatmap_boxes(normalize_heatmap(heatmap), 0.5, every_component=False)
    np.testing.assert_array_equal(boxes, [[2, 20, 5, 5]])


def test_max_box_accuracy_v1_and_v2_by_hand() -> None:
    first, first_boxes = _two_blob_image()
    second, second_boxes = _core_and_halo_image()
    heatmaps, boxes = [first, second], [first_boxes, second_boxes]
    # v1: image 1 is right only for tau >= 0.70 (decoy gone; IoU 64/81), image 2 only for tau <= 0.29
    # (halo box IoU 144/169; the core alone gives 25/144): never both -> 0.5
    curves_v1 = compute_box_accuracy_curves(heatmaps, boxes, version=1)
    assert curves_v1.value == pytest.approx(0.5)
    expected_v1 = np.full(100, 0.5)
    expected_v1[30:70] = 0.0
    np.testing.assert_allclose(curves_v1.box_accuracy[0], expected_v1)
    assert curves_v1.best_cam_thresholds[0] == pytest.approx(0.0)
    # v2: the lesion's own component always competes, so image 1 is right at every tau (IoU 0.79 >= 0.7);
    # both images are right for tau <= 0.29 at every delta
    curves_v2 = compute_box_accuracy_curves(heatmaps, boxes, version=2)
    np.testing.assert_allclose(curves_v2.iou_thresholds, [0.3, 0.5, 0.7])
    np.testing.assert_allclose(curves_v2.max_box_accuracy, [1.0, 1.0, 1.0])
    np.testing.assert_allclose(curves_v2.box_accuracy[:, 29], 1.0)
    np.testing.assert_allclose(curves_v2.box_accuracy[:, 30], 0.5)
    assert compute_max_box_accuracy(heatmaps, boxes, version=2) == pytest.approx(1.0)


def test_max_box_accuracy_ignores_heatmap_scale() -> None:
    heatmap, boxes = _two_blob_image()
    assert compute_max_box_accuracy([heatmap * 40 - 7], [boxes], version=1) == pytest.approx(
        compute_max_box_accuracy([heatmap], [boxes], version=1)
    )


def test_image_without_ground_truth_box_raises() -> None:
    heatmap, _ = _two_blob_image()
    with pytest.raises(ValueError, match="image 0 has no ground-truth box"):
        compute_max_box_accuracy([heatmap], [np.zeros((0, 4))])


@pytest.mark.parametrize("version", [1, 2])
def test_metric_over_batches_equals_function(version: int) -> None:
    first, first_boxes = _two_blob_image()
    second, second_boxes = _core_and_halo_image()
    metric = MaxBoxAccuracyMetric(version=version)
    metric(torch.as_tensor(first)[None, None], [torch.as_tensor(first_boxes)])
    metric(torch.as_tensor(second)[None, None], [torch.as_tensor(second_boxes)])
    expected = compute_box_accuracy_curves([first, second], [first_boxes, second_boxes], version=version)
    assert metric.aggregate() == pytest.approx(expected.value)
    np.testing.assert_allclose(metric.aggregate_curves().box_accuracy, expected.box_accuracy)
