"""STL localization AP and pointing accuracy on hand-made cases, against sklearn where they coincide."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from sklearn.metrics import average_precision_score
from weakloc_metrics.handlers import PointingLocalization
from weakloc_metrics.pointing import (
    PointingLocalizationMetric,
    compute_localization_ap,
    compute_pointing_accuracy,
    compute_pointing_localization,
    locate_activation_peak,
    point_in_boxes,
    point_in_mask,
)


def _box_mask(box: tuple[int, int, int, int], size: int = 64) -> np.ndarray:
    x, y, w, h = box
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[y : y + h, x : x + w] = 1
    return mask


def test_peak_of_bilinearly_upsampled_map() -> None:
    activation = np.zeros((4, 4), dtype=np.float32)
    activation[1, 2] = 1.0
    # source pixel (1, 2) lies at output (11.5, 19.5): the two nearest pixels tie, the first is taken
    assert locate_activation_peak(activation, (32, 32)) == (11, 19)
    assert locate_activation_peak(torch.from_numpy(activation), (16, 32)) == (5, 19)


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((12, 30), True),  # 16 columns right of the box's last column
        ((12, 31), False),  # 17 columns right
        ((5, 40), True),  # 16 columns left of the box at x = 56
        ((5, 39), False),  # 17 columns left
        ((30, 30), True),  # 16 rows and 16 columns off the corner (Chebyshev, not Euclidean)
        ((31, 12), False),
    ],
)
def test_tolerance_margin_boxes_and_masks_agree(point: tuple[int, int], inside: bool) -> None:
    boxes = np.array([[10, 10, 5, 5], [56, 0, 4, 4]])  # columns 10..14, rows 10..14 / columns 56..59, rows 0..3
    assert point_in_boxes(point, boxes, tolerance=16) is inside
    mask = np.maximum(_box_mask((10, 10, 5, 5)), _box_mask((56, 0, 4, 4)))
    assert point_in_mask(point, mask, tolerance=16) is inside


def test_annotation_touching_the_border() -> None:
    boxes = np.array([[0, 0, 4, 4]])
    mask = _box_mask((0, 0, 4, 4))
    for point, inside in [((0, 0), True), ((0, 19), True), ((0, 20), False), ((19, 19), True), ((20, 0), False)]:
        assert point_in_boxes(point, boxes, tolerance=16) is inside
        assert point_in_mask(point, mask, tolerance=16) is inside
    assert point_in_boxes((0, 0), np.zeros((0, 4))) is False


def test_localization_ap_hand_computed() -> None:
    probs = np.array([0.9, 0.8, 0.7, 0.6])
    has_annotation = np.array([True, True, False, True])
    correct = np.array([True, False, True, True])  # image 2 has no annotation: its flag is ignored
    # thresholds 0.9: P 1, R 1/3; 0.8: P 1/2, R 1/3; 0.7: P 1/3, R 1/3; 0.6: P 2/4, R 2/3
    assert compute_localization_ap(probs, correct, has_annotation) == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 4)
    assert compute_pointing_accuracy(correct, has_annotation) == pytest.approx(2 / 3)
    assert compute_localization_ap(probs, np.zeros(4, bool), has_annotation) == 0.0
    with pytest.warns(UserWarning, match="without positive images"):
        assert np.isnan(compute_localization_ap(probs, correct, np.zeros(4, bool)))


def test_equals_sklearn_when_every_positive_is_localized() -> None:
    rng = np.random.default_rng(0)
    probs = rng.random(40)
    has_annotation = rng.random(40) < 0.5
    ap = compute_localization_ap(probs, has_annotation, has_annotation)
    assert ap == pytest.approx(average_precision_score(has_annotation, probs), abs=1e-12)
    correct = has_annotation & (rng.random(40) < 0.7)  # some positives missed: recall stops short of 1
    scaled = average_precision_score(correct, probs) * correct.sum() / has_annotation.sum()
    assert compute_localization_ap(probs, correct, has_annotation) == pytest.approx(scaled, abs=1e-12)
    assert compute_localization_ap(probs, correct, has_annotation) < average_precision_score(correct, probs)


def _case() -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """Four 64 x 64 images with 8 x 8 maps: a hit, a miss, a negative, a hit on a border box."""
    maps = np.zeros((4, 8, 8), dtype=np.float32)
    maps[0, 2, 2] = 1.0  # peak near (19, 19)
    maps[1, 7, 7] = 1.0  # peak at the far corner, far from the box
    maps[2, 4, 4] = 1.0
    maps[3, 0, 0] = 1.0  # peak at (0, 0)
    boxes = [np.array([[16, 16, 8, 8]]), np.array([[0, 0, 6, 6]]), np.zeros((0, 4)), np.array([[0, 40, 5, 24]])]
    probs = np.array([0.9, 0.8, 0.7, 0.6])
    masks = np.stack([np.zeros((64, 64), np.uint8) if b.size == 0 else _box_mask(tuple(b[0])) for b in boxes])
    return probs, maps, boxes, masks


def test_full_chain_boxes_equal_masks() -> None:
    probs, maps, boxes, masks = _case()
    by_boxes = compute_pointing_localization(probs, maps, gt_boxes=boxes, image_sizes=[(64, 64)] * 4)
    by_masks = compute_pointing_localization(probs, maps, gt_masks=masks)
    np.testing.assert_array_equal(by_boxes.correct, [True, False, False, False])
    np.testing.assert_array_equal(by_masks.correct, by_boxes.correct)
    np.testing.assert_array_equal(by_boxes.has_annotation, [True, True, False, True])
    # box 3 spans rows 40..63: (0, 0) is 40 rows away, outside 16 px; with 40 px it is inside
    wide = compute_pointing_localization(probs, maps, gt_masks=masks, tolerance=40)
    np.testing.assert_array_equal(wide.correct, [True, False, False, True])
    assert by_boxes.localization_ap == pytest.approx(1 / 3)
    assert by_masks.pointing_accuracy == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="image_sizes"):
        compute_pointing_localization(probs, maps, gt_boxes=boxes)
    with pytest.raises(ValueError, match="image 1: boxes must be"):
        bad_boxes = [boxes[0], np.ones((1, 3)), *boxes[2:]]
        compute_pointing_localization(probs, maps, gt_boxes=bad_boxes, image_sizes=[(64, 64)] * 4)


def test_cumulative_over_batches_and_handler() -> None:
    probs, maps, _, masks = _case()
    expected = compute_pointing_localization(probs, maps, gt_masks=masks, tolerance=40)
    metric = PointingLocalizationMetric(tolerance=40, metric_name="pointing_accuracy")
    for batch in (slice(0, 3), slice(3, 4)):
        y_pred = (torch.from_numpy(probs[batch]), torch.from_numpy(maps[batch, None]))
        metric(y_pred=y_pred, y=torch.from_numpy(masks[batch, None]))
    assert metric.aggregate() == pytest.approx(expected.pointing_accuracy)
    result = metric.aggregate_result()
    assert result.localization_ap == pytest.approx(expected.localization_ap)
    np.testing.assert_array_equal(result.points, expected.points)

    engine = Engine(lambda engine, batch: batch)
    handler = PointingLocalization(tolerance=40, output_transform=lambda out: ((out["prob"], out["cam"]), out["mask"]))
    handler.attach(engine, "localization_ap")
    tensors = {"prob": probs, "cam": maps[:, None], "mask": masks[:, None]}
    tensors = {key: torch.from_numpy(value) for key, value in tensors.items()}
    batches = [{key: value[b] for key, value in tensors.items()} for b in (slice(0, 2), slice(2, 4))]
    engine.run(batches)
    assert engine.state.metrics["localization_ap"] == pytest.approx(expected.localization_ap)
