from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_weakloc.localize import heatmap_to_boxes, heatmap_to_points


def _two_blobs() -> np.ndarray:
    heatmap = np.zeros((20, 20), dtype=np.float32)
    heatmap[2:5, 3:8] = 0.6
    heatmap[3, 4] = 0.8
    heatmap[10:16, 12:14] = 0.9
    return heatmap


def test_components_become_tight_boxes_sorted_by_max_score():
    (boxes,) = heatmap_to_boxes(_two_blobs(), threshold=0.5)
    assert [b.box for b in boxes] == [(12.0, 10.0, 14.0, 16.0), (3.0, 2.0, 8.0, 5.0)]
    assert [b.score for b in boxes] == pytest.approx([0.9, 0.8])
    assert (boxes[1].x, boxes[1].y) == (4.5, 3.5)  # the peak pixel's centre


def test_mean_score_reorders_boxes():
    (boxes,) = heatmap_to_boxes(_two_blobs(), threshold=0.5, score="mean")
    assert [b.score for b in boxes] == pytest.approx([0.9, (14 * 0.6 + 0.8) / 15])


def test_connectivity_decides_whether_diagonal_pixels_join():
    heatmap = np.zeros((6, 6), dtype=np.float32)
    heatmap[1, 1] = heatmap[2, 2] = 1.0
    assert len(heatmap_to_boxes(heatmap, threshold=0.5, connectivity=2)[0]) == 1
    assert len(heatmap_to_boxes(heatmap, threshold=0.5, connectivity=1)[0]) == 2


def test_boxes_scaled_to_target_size_and_batched():
    maps = torch.from_numpy(np.stack([_two_blobs(), np.zeros((20, 20), dtype=np.float32)]))
    boxes = heatmap_to_boxes(maps, threshold=0.5, target_size=(40, 80))
    assert boxes[1] == []
    assert boxes[0][0].box == pytest.approx((48.0, 20.0, 56.0, 32.0))


def test_bad_box_options_are_named():
    with pytest.raises(ValueError, match="score"):
        heatmap_to_boxes(_two_blobs(), threshold=0.5, score="median")
    with pytest.raises(ValueError, match="connectivity"):
        heatmap_to_boxes(_two_blobs(), threshold=0.5, connectivity=3)


def test_points_are_local_maxima_above_threshold_in_order():
    heatmap = np.zeros((30, 30), dtype=np.float32)
    heatmap[5, 5] = 1.0
    heatmap[5, 8] = 0.9  # within 3 px of a higher peak: suppressed
    heatmap[20, 20] = 0.7
    heatmap[25, 2] = 0.2  # below threshold
    (points,) = heatmap_to_points(heatmap, min_distance=3, threshold=0.3)
    assert [(p.x, p.y) for p in points] == [(5.5, 5.5), (20.5, 20.5)]
    assert [p.score for p in points] == pytest.approx([1.0, 0.7])
    (points,) = heatmap_to_points(heatmap, min_distance=2, threshold=0.3)
    assert len(points) == 3
    (points,) = heatmap_to_points(heatmap, min_distance=2, threshold=0.3, max_points=1)
    assert len(points) == 1 and points[0].score == pytest.approx(1.0)


def test_plateau_gives_points_separated_by_min_distance():
    heatmap = np.zeros((12, 12), dtype=np.float32)
    heatmap[4, 2:10] = 1.0  # a ridge of equal values
    (points,) = heatmap_to_points(heatmap, min_distance=2, threshold=0.5)
    columns = [p.x - 0.5 for p in points]
    assert columns == [2, 5, 8]


def test_points_scaled_to_target_size():
    heatmap = np.zeros((2, 10, 10), dtype=np.float32)
    heatmap[1, 3, 4] = 1.0
    points = heatmap_to_points(heatmap, min_distance=1, threshold=0.5, target_size=(100, 50))
    assert points[0] == []
    assert (points[1][0].x, points[1][0].y) == pytest.approx((22.5, 35.0))


def test_bad_point_options_are_named():
    with pytest.raises(ValueError, match="min_distance"):
        heatmap_to_points(np.zeros((4, 4)), min_distance=-1, threshold=0.0)
    with pytest.raises(ValueError, match="max_points"):
        heatmap_to_points(np.zeros((4, 4)), min_distance=1, threshold=0.0, max_points=0)
