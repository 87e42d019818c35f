"""MaxBoxAcc v1/v2 against the reference protocol run with OpenCV (test-only dependency).

The reference (``wsolevaluation``, ``compute_bboxes_from_scoremaps``) binarises the 8-bit map with
``cv2.threshold``, lists contours with ``cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)``, keeps every
contour (v2) or the one of largest ``cv2.contourArea`` (v1) and boxes it with ``cv2.boundingRect``. The
functions below follow that protocol; ours must give the same boxes and the same MaxBoxAcc on any map.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage

from weakloc_metrics.maxboxacc import (
    DEFAULT_CAM_THRESHOLDS,
    IOU_THRESHOLDS_BY_VERSION,
    compute_box_accuracy_curves_by_version,
    component_boxes,
    normalize_heatmap,
)


def reference_boxes(normalized: np.ndarray, cam_threshold: float, multi_contour: bool) -> np.ndarray:
    """Boxes of the reference protocol.

    Args:
        normalized: (H, W) map in [0, 1].
        cam_threshold: tau in [0, 1).
        multi_contour: True for every contour (v2), False for the one of largest area (v1).

    Returns:
        (N, 4) inclusive ``x0, y0, x1, y1`` boxes.
    """
    height, width = normalized.shape
    image = (normalized * 255).astype(np.uint8)
    _, binary = cv2.threshold(image, int(cam_threshold * image.max()), 255, cv2.THRESH_TOZERO)
    contours, _ = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return np.zeros((1, 4), dtype=np.int64)
    if not multi_contour:
        contours = [max(contours, key=cv2.contourArea)]
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
    return np.asarray(boxes, dtype=np.int64)


def reference_box_accuracy(heatmaps: list[np.ndarray], ground_truth: list[np.ndarray], version: int) -> np.ndarray:
    """BoxAcc of the reference protocol.

    Args:
        heatmaps: per image, an (H, W) map.
        ground_truth: per image, (M, 4) ``x, y, w, h`` boxes.
        version: 1 or 2.

    Returns:
        (D, T) BoxAcc over the IoU thresholds of the version and the default tau grid.
    """
    deltas = np.asarray(IOU_THRESHOLDS_BY_VERSION[version])
    correct = np.zeros((deltas.size, DEFAULT_CAM_THRESHOLDS.size))
    for heatmap, truth in zip(heatmaps, ground_truth):
        normalized = heatmap - heatmap.min()
        normalized = normalized / normalized.max()
        truth_corners = np.concatenate([truth[:, :2], truth[:, :2] + truth[:, 2:] - 1], axis=1)
        for index, tau in enumerate(DEFAULT_CAM_THRESHOLDS):
            boxes = reference_boxes(normalized, tau, multi_contour=version == 2)
            top_left = np.maximum(boxes[:, None, :2], truth_corners[None, :, :2])
            bottom_right = np.minimum(boxes[:, None, 2:], truth_corners[None, :, 2:])
            intersection = np.prod(np.maximum(bottom_right - top_left + 1, 0), axis=-1)
            box_areas = np.prod(boxes[:, 2:] - boxes[:, :2] + 1, axis=-1)
            truth_areas = np.prod(truth[:, 2:], axis=-1)
            iou = intersection / (box_areas[:, None] + truth_areas[None, :] - intersection)
            correct[:, index] += iou.max() >= deltas
    return correct / len(heatmaps)


def as_xywh(corners: np.ndarray) -> np.ndarray:
    """(N, 4) inclusive ``x0, y0, x1, y1`` -> (N, 4) ``x, y, w, h``."""
    return np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2] + 1], axis=1).astype(np.float64)


def smooth_map(seed: int, size: int = 64) -> np.ndarray:
    """(size, size) gaussian-filtered noise; the blur sets how many blobs and holes each threshold gives."""
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.random((size, size)), sigma=(1.0, 2.0, 4.0, 8.0)[seed % 4])


def rings_map() -> np.ndarray:
    """(64, 64) concentric rings around an off-centre point, slightly tilted: holes in holes at most taus."""
    rows, columns = np.mgrid[:64, :64]
    radius = np.hypot(rows - 30.0, columns - 35.0)
    return np.cos(radius / 2.5) + 0.01 * columns


def nested_map() -> np.ndarray:
    """(64, 64) a ring (1.0) whose hole holds a lower ring (0.6) around a blob (0.8), a second ring (0.9)
    holding a blob (0.5) and a single pixel, and two equal squares (0.7)."""
    heatmap = np.zeros((64, 64))
    heatmap[2:40, 2:40] = 1.0
    heatmap[6:36, 6:36] = 0.0
    heatmap[10:32, 10:32] = 0.6
    heatmap[14:28, 14:28] = 0.0
    heatmap[18:24, 18:24] = 0.8
    heatmap[44:62, 44:62] = 0.9
    heatmap[47:59, 47:59] = 0.0
    heatmap[50:56, 50:54] = 0.5
    heatmap[57, 57] = 0.5
    heatmap[4:9, 50:55] = 0.7
    heatmap[50:55, 4:9] = 0.7
    return heatmap


def diagonal_map() -> np.ndarray:
    """(32, 32) diagonal strokes and a diamond ring: 8-connected borders, areas that are not pixel counts,
    a hole whose polygon is as large as its component's, and a long line of zero area."""
    heatmap = np.zeros((32, 32))
    for step in range(8):
        heatmap[4 + step, 4 + step] = 1.0
        heatmap[4 + step, 20 - step] = 1.0
    heatmap[20, 10], heatmap[21, 9], heatmap[21, 11], heatmap[22, 10] = 0.8, 0.8, 0.8, 0.8
    heatmap[28, 2:30] = 0.6
    heatmap[24:27, 24:27] = 0.4
    return heatmap


def noise_map(seed: int) -> np.ndarray:
    """(40, 48) barely smoothed noise: many components, holes, nested components and equal areas."""
    return ndimage.gaussian_filter(np.random.default_rng(seed).random((40, 48)), sigma=0.6)


MAPS = {
    **{f"smooth-{seed}": smooth_map(seed) for seed in range(8)},
    "smooth-224": smooth_map(11, size=224),
    "rings": rings_map(),
    "nested": nested_map(),
    "diagonal": diagonal_map(),
    **{f"noise-{seed}": noise_map(seed) for seed in range(3)},
}


@pytest.mark.parametrize("name", sorted(MAPS))
def test_boxes_equal_the_reference_at_every_threshold(name: str) -> None:
    normalized = normalize_heatmap(MAPS[name])
    for tau in DEFAULT_CAM_THRESHOLDS:
        boxes = component_boxes(normalized, tau)
        largest = as_xywh(reference_boxes(normalized, tau, multi_contour=False))
        np.testing.assert_array_equal(boxes[1], largest, err_msg=f"v1 at tau {tau:.2f}")
        every = as_xywh(reference_boxes(normalized, tau, multi_contour=True))
        np.testing.assert_array_equal(
            np.unique(boxes[2], axis=0), np.unique(every, axis=0), err_msg=f"v2 at tau {tau:.2f}"
        )
        assert len(boxes[2]) == len(every), f"v2 at tau {tau:.2f}: {len(boxes[2])} contours, OpenCV {len(every)}"


def random_truth(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(M, 4) one or two random ``x, y, w, h`` boxes inside the image."""
    count = int(rng.integers(1, 3))
    sizes = rng.integers(4, [width // 2, height // 2], size=(count, 2))
    corners = rng.integers(0, [width, height] - sizes + 1, size=(count, 2))
    return np.concatenate([corners, sizes], axis=1).astype(np.float64)


def test_max_box_accuracy_equals_the_reference() -> None:
    rng = np.random.default_rng(7)
    heatmaps = [MAPS[name] for name in sorted(MAPS)]
    truths = [random_truth(rng, *heatmap.shape) for heatmap in heatmaps]
    # the border of the inner ring's hole, which no other contour matches at delta 0.7, and the small
    # square that is the largest contour by area though not by pixel count
    truths[sorted(MAPS).index("nested")] = np.array([[13.0, 13.0, 17.0, 17.0]])
    truths[sorted(MAPS).index("diagonal")] = np.array([[24.0, 24.0, 4.0, 4.0]])
    curves = compute_box_accuracy_curves_by_version(heatmaps, truths)
    for version in (1, 2):
        expected = reference_box_accuracy(heatmaps, truths, version)
        np.testing.assert_array_equal(curves[version].box_accuracy, expected, err_msg=f"v{version}")
        assert curves[version].value == expected.max(axis=1).mean()
    assert curves[1].box_accuracy.max() > 0.0 and curves[2].max_box_accuracy[-1] > 0.0
