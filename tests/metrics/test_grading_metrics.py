"""Kappa, accuracy, within-one-grade accuracy and confusion matrix against scikit-learn and hand counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix

from weakloc_metrics.grading import (
    ClassConfusionMatrixMetric,
    QuadraticWeightedKappaMetric,
    SingleLabelAccuracyMetric,
    WithinOneGradeAccuracyMetric,
    compute_accuracy,
    compute_class_confusion_matrix,
    compute_quadratic_weighted_kappa,
    compute_within_one_grade_accuracy,
)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_kappa_accuracy_and_confusion_equal_sklearn_on_random_grades(seed: int) -> None:
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.ones(5), size=40)
    truth = rng.integers(0, 5, size=40)
    predicted = probabilities.argmax(axis=1)
    labels = list(range(5))
    assert compute_quadratic_weighted_kappa(probabilities, truth, 5) == pytest.approx(
        cohen_kappa_score(truth, predicted, weights="quadratic", labels=labels)
    )
    assert compute_accuracy(torch.as_tensor(probabilities), torch.as_tensor(truth)) == pytest.approx(
        accuracy_score(truth, predicted)
    )
    np.testing.assert_array_equal(
        compute_class_confusion_matrix(predicted, truth, 5), confusion_matrix(truth, predicted, labels=labels)
    )


def test_kappa_uses_every_grade_even_one_missing_from_both_raters() -> None:
    truth = [0, 1, 3, 3, 1]  # grade 2 missing from both raters
    predicted = [0, 3, 3, 1, 1]
    all_grades = cohen_kappa_score(truth, predicted, weights="quadratic", labels=[0, 1, 2, 3])
    present_grades_only = cohen_kappa_score(truth, predicted, weights="quadratic")
    assert all_grades != pytest.approx(present_grades_only)
    assert compute_quadratic_weighted_kappa(predicted, truth, 4) == pytest.approx(all_grades)


def test_kappa_of_perfect_and_of_single_grade_agreement() -> None:
    assert compute_quadratic_weighted_kappa([0, 1, 2, 4], [0, 1, 2, 4], 5) == pytest.approx(1.0)
    with pytest.warns(Warning, match="undefined"):
        assert np.isnan(compute_quadratic_weighted_kappa([2, 2, 2], [2, 2, 2], 5))


def test_within_one_grade_accuracy_by_hand() -> None:
    # differences 0, 1, 2, 1, 4 -> three within one grade
    assert compute_within_one_grade_accuracy([0, 2, 4, 3, 4], [0, 1, 2, 4, 0]) == pytest.approx(3 / 5)
    assert compute_accuracy([0, 2, 4, 3, 4], [0, 1, 2, 4, 0]) == pytest.approx(1 / 5)


def test_confusion_matrix_keeps_absent_classes_and_puts_truth_in_rows() -> None:
    one_hot_truth = np.eye(4)[[0, 0, 1, 3]]
    matrix = compute_class_confusion_matrix([0, 1, 1, 1], one_hot_truth, 4)
    expected = np.array([[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0]])
    np.testing.assert_array_equal(matrix, expected)


def test_bad_grades_name_the_argument_and_sample() -> None:
    with pytest.raises(ValueError, match=r"y\[2\] = 5 is not a grade in 0..4"):
        compute_quadratic_weighted_kappa([0, 1, 2], [0, 1, 5], 5)
    with pytest.raises(ValueError, match=r"y_pred\[1\] = 1.5 is not a whole grade"):
        compute_accuracy([0.0, 1.5], [0, 1])
    with pytest.raises(ValueError, match="3 samples but y has 2"):
        compute_accuracy([0, 1, 2], [0, 1])


@pytest.mark.parametrize(
    ("metric", "reference"),
    [
        (QuadraticWeightedKappaMetric(num_classes=5), lambda p, y: compute_quadratic_weighted_kappa(p, y, 5)),
        (SingleLabelAccuracyMetric(), compute_accuracy),
        (WithinOneGradeAccuracyMetric(), compute_within_one_grade_accuracy),
        (ClassConfusionMatrixMetric(num_classes=5), lambda p, y: compute_class_confusion_matrix(p, y, 5)),
    ],
)
def test_cumulative_metric_over_batches_equals_one_shot_function(metric, reference) -> None:
    rng = np.random.default_rng(7)
    logits = torch.as_tensor(rng.normal(size=(30, 5)))
    truth = torch.as_tensor(rng.integers(0, 5, size=30))
    for start in range(0, 30, 8):
        metric(logits[start : start + 8], truth[start : start + 8])
    np.testing.assert_allclose(metric.aggregate(), reference(logits.numpy(), truth.numpy()))
    metric.reset()
    with pytest.raises(ValueError, match="has seen no samples"):
        metric.aggregate()
