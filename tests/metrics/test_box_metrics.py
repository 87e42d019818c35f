"""IoU/IoM/IoBB, Zoom-in-Net IoM recall and ChestX-ray14 box accuracy against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weakloc_metrics.box_accuracy import BoxAccuracyMetric, compute_box_accuracy
from weakloc_metrics.boxes import as_xywh_boxes, xywh_iobb, xywh_iom, xywh_iou
from weakloc_metrics.iom_recall import IoMRecallMetric, compute_iom_recall, compute_iom_recall_curve

SQUARE = np.array([[0.0, 0.0, 10.0, 10.0]])


def test_overlap_ratios_by_hand() -> None:
    shifted = np.array([[5.0, 5.0, 10.0, 10.0]])  # overlap 5 x 5
    inside = np.array([[2.0, 2.0, 4.0, 4.0]])  # 4 x 4 inside SQUARE
    assert xywh_iou(SQUARE, shifted)[0, 0] == pytest.approx(25 / 175)
    assert xywh_iom(SQUARE, shifted)[0, 0] == pytest.approx(25 / 100)
    assert xywh_iom(SQUARE, inside)[0, 0] == pytest.approx(1.0)
    assert xywh_iou(SQUARE, inside)[0, 0] == pytest.approx(16 / 100)
    # IoBB divides by the predicted (first) box
    assert xywh_iobb(inside, SQUARE)[0, 0] == pytest.approx(1.0)
    assert xywh_iobb(SQUARE, inside)[0, 0] == pytest.approx(16 / 100)


def test_boxes_touching_along_an_edge_do_not_overlap() -> None:
    neighbour = np.array([[10.0, 0.0, 5.0, 5.0]])
    assert xywh_iom(SQUARE, neighbour)[0, 0] == 0.0
    assert xywh_iou(SQUARE, neighbour).shape == (1, 1)


def test_zero_area_box_raises_naming_image_and_row() -> None:
    with pytest.raises(ValueError, match=r"ground-truth boxes of image 1: row 1 .* zero or negative width/height"):
        compute_iom_recall([SQUARE, SQUARE], [SQUARE, np.array([[0, 0, 5, 5], [3, 3, 0, 4]])], 0.3)
    with pytest.raises(ValueError, match=r"expected an \(N, 4\) array"):
        as_xywh_boxes(np.zeros((2, 3)), "sampled boxes of image 0")


def _zoom_in_net_case() -> tuple[list[np.ndarray], list[np.ndarray]]:
    predicted = [
        np.array([[5.0, 0.0, 10.0, 10.0]]),  # IoM 0.5 with the first lesion, 0 with the second
        np.zeros((0, 4)),  # no sampled box: hits nothing
        np.array([[0.0, 0.0, 5.0, 5.0]]),  # image without lesion: counts for neither recall
        np.array([[0.0, 0.0, 4.0, 4.0], [40.0, 40.0, 8.0, 8.0]]),  # first box inside the lesion at the border
    ]
    truth = [
        np.array([[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 10.0, 10.0]]),
        np.array([[20.0, 20.0, 10.0, 10.0]]),
        np.zeros((0, 4)),
        np.array([[0.0, 0.0, 20.0, 20.0]]),
    ]
    return predicted, truth


def test_iom_recall_for_box_and_person_by_hand() -> None:
    predicted, truth = _zoom_in_net_case()
    # 4 lesions, 3 persons with lesions; at t = 0.3 image 0 (first lesion) and image 3 are hit
    assert compute_iom_recall(predicted, truth, 0.3) == pytest.approx((2 / 4, 2 / 3))
    # at t = 0.6 the IoM 0.5 of image 0 no longer counts
    assert compute_iom_recall(predicted, truth, 0.6) == pytest.approx((1 / 4, 1 / 3))
    curve = compute_iom_recall_curve(predicted, truth, [0.6, 0.3, 0.5])
    np.testing.assert_allclose(curve.thresholds, [0.3, 0.5, 0.6])
    np.testing.assert_allclose(curve.box_recall, [0.5, 0.5, 0.25])
    np.testing.assert_allclose(curve.person_recall, [2 / 3, 2 / 3, 1 / 3])


def test_iom_recall_without_any_lesion_is_nan() -> None:
    with pytest.warns(UserWarning, match="no image has a ground-truth box"):
        box, person = compute_iom_recall([SQUARE], [np.zeros((0, 4))])
    assert np.isnan(box) and np.isnan(person)


@pytest.mark.parametrize("recall", ["box", "person"])
def test_iom_recall_metric_over_batches_equals_function(recall: str) -> None:
    predicted, truth = _zoom_in_net_case()
    metric = IoMRecallMetric(threshold=0.3, recall=recall)
    metric([torch.as_tensor(p) for p in predicted[:2]], [torch.as_tensor(t) for t in truth[:2]])
    metric([torch.as_tensor(p) for p in predicted[2:]], [torch.as_tensor(t) for t in truth[2:]])
    box, person = compute_iom_recall(predicted, truth, 0.3)
    assert metric.aggregate() == pytest.approx(box if recall == "box" else person)
    curve = metric.aggregate_curve()
    expected = compute_iom_recall_curve(predicted, truth, curve.thresholds)
    np.testing.assert_allclose(curve.box_recall, expected.box_recall)
    np.testing.assert_allclose(curve.person_recall, expected.person_recall)


def test_iom_recall_metric_takes_batch_first_tensors() -> None:
    metric = IoMRecallMetric(threshold=0.5)
    sampled = torch.tensor([[[0.0, 0.0, 4.0, 4.0]], [[30.0, 30.0, 4.0, 4.0]]])  # (B=2, N=1, 4)
    lesions = torch.tensor([[[0.0, 0.0, 8.0, 8.0]], [[0.0, 0.0, 8.0, 8.0]]])  # (B=2, M=1, 4)
    metric(sampled, lesions)
    assert metric.aggregate() == pytest.approx(0.5)


def _chestxray_case() -> tuple[list[np.ndarray], list[np.ndarray]]:
    predicted = [
        # class 0: IoBB = IoU = 100 / 400 = 0.25 with the lesion; a far box that is a false positive;
        # a class-1 box in an image without class-1 lesion: not counted
        np.array([[0, 0, 0, 20, 20], [0, 50, 50, 10, 10], [1, 0, 0, 5, 5]], dtype=float),
        # class 1: inside the lesion, IoBB 1.0, IoU 16 / 100
        np.array([[1, 12, 12, 4, 4]], dtype=float),
        # class 0 lesion without any prediction
        np.zeros((0, 5)),
    ]
    truth = [
        np.array([[0, 0, 0, 10, 10]], dtype=float),
        np.array([[1, 10, 10, 10, 10]], dtype=float),
        np.array([[0, 0, 0, 10, 10]], dtype=float),
    ]
    return predicted, truth


def test_box_accuracy_iobb_by_hand() -> None:
    predicted, truth = _chestxray_case()
    table = compute_box_accuracy(predicted, truth, num_classes=3, overlap="iobb")
    np.testing.assert_allclose(table.thresholds, [0.1, 0.25, 0.5, 0.75, 0.9])
    np.testing.assert_array_equal(table.num_images, [2, 1, 0])
    np.testing.assert_allclose(table.accuracy[0], [0.5, 0.5, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(table.average_false_positives[0], [0.5, 0.5, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(table.accuracy[1], [1.0] * 5)
    np.testing.assert_allclose(table.average_false_positives[1], [0.0] * 5)
    assert np.isnan(table.accuracy[2]).all() and np.isnan(table.average_false_positives[2]).all()


def test_box_accuracy_iou_by_hand() -> None:
    predicted, truth = _chestxray_case()
    table = compute_box_accuracy(predicted, truth, num_classes=3, overlap="iou", thresholds=[0.1, 0.2])
    np.testing.assert_allclose(table.accuracy[1], [1.0, 0.0])  # IoU 0.16
    np.testing.assert_allclose(table.accuracy[0], [0.5, 0.5])  # IoU 0.25


def test_box_accuracy_rejects_unknown_label_naming_row() -> None:
    with pytest.raises(ValueError, match=r"predicted boxes of image 0: row 0 has label 7.0"):
        compute_box_accuracy([np.array([[7, 0, 0, 5, 5]])], [np.array([[0, 0, 0, 5, 5]])], num_classes=3)


def test_box_accuracy_metric_over_batches_equals_function() -> None:
    predicted, truth = _chestxray_case()
    metric = BoxAccuracyMetric(num_classes=3, threshold=0.25)
    metric([torch.as_tensor(p) for p in predicted[:1]], [torch.as_tensor(t) for t in truth[:1]])
    metric([torch.as_tensor(p) for p in predicted[1:]], [torch.as_tensor(t) for t in truth[1:]])
    expected = compute_box_accuracy(predicted, truth, num_classes=3)
    table = metric.aggregate_table()
    np.testing.assert_allclose(table.accuracy, expected.accuracy)
    np.testing.assert_allclose(table.average_false_positives, expected.average_false_positives)
    # mean over the classes with images (0 and 1) at IoBB 0.25
    assert metric.aggregate() == pytest.approx((0.5 + 1.0) / 2)
