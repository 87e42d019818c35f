"""Per-class AUC, sensitivity at specificity and referable AUC against scikit-learn and hand values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from weakloc_metrics.roc import (
    PerClassROCAUCMetric,
    ReferableROCAUCMetric,
    SensitivityAtSpecificityMetric,
    compute_mean_roc_auc,
    compute_per_class_roc_auc,
    compute_referable_roc_auc,
    compute_sensitivity_at_specificity,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multi_label_auc_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.random((50, 4))
    truth = (rng.random((50, 4)) < scores).astype(np.float32)
    expected = roc_auc_score(truth, scores, average=None)
    np.testing.assert_allclose(compute_per_class_roc_auc(torch.as_tensor(scores), torch.as_tensor(truth)), expected)
    assert compute_mean_roc_auc(scores, truth) == pytest.approx(expected.mean())


@pytest.mark.parametrize("seed", [3, 4])
def test_single_label_indices_and_one_hot_give_one_vs_rest_auc(seed: int) -> None:
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.ones(3), size=40)
    classes = rng.integers(0, 3, size=40)
    expected = roc_auc_score(np.eye(3)[classes], probabilities, average=None)
    np.testing.assert_allclose(compute_per_class_roc_auc(probabilities, classes), expected)
    np.testing.assert_allclose(compute_per_class_roc_auc(probabilities, np.eye(3)[classes]), expected)


def test_class_absent_from_batch_is_nan_with_warning_and_left_out_of_mean() -> None:
    scores = np.array([[0.9, 0.1, 0.2], [0.2, 0.8, 0.1], [0.6, 0.3, 0.4], [0.1, 0.7, 0.3]])
    classes = np.array([0, 1, 0, 1])  # class 2 never occurs
    with pytest.warns(UserWarning, match="class 2"):
        per_class = compute_per_class_roc_auc(scores, classes)
    assert np.isnan(per_class[2])
    np.testing.assert_allclose(per_class[:2], roc_auc_score(np.eye(3)[classes][:, :2], scores[:, :2], average=None))
    with pytest.warns(UserWarning, match="class 2"):
        assert compute_mean_roc_auc(scores, classes) == pytest.approx(per_class[:2].mean())


def test_all_one_class_gives_nan() -> None:
    with pytest.warns(UserWarning) as caught:
        assert np.isnan(compute_mean_roc_auc([0.2, 0.7, 0.4], [1, 1, 1]))
    messages = [str(w.message) for w in caught]
    assert any("every sample is 1" in m for m in messages)
    assert any("mean ROC AUC is undefined" in m for m in messages)


def test_sensitivity_at_specificity_takes_best_reachable_operating_point() -> None:
    # descending scores; 4 positives, 4 negatives
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    labels = [1, 1, 0, 1, 0, 1, 0, 0]
    # at most 2 false positives: threshold 0.4 keeps all 4 positives
    assert compute_sensitivity_at_specificity(scores, labels, 0.5) == pytest.approx(1.0)
    # at most 1 false positive: threshold 0.6 keeps 3 positives
    assert compute_sensitivity_at_specificity(scores, labels, 0.75) == pytest.approx(0.75)
    # specificity 0.8 needs 0 false positives (no interpolation towards 0.75): 2 positives
    assert compute_sensitivity_at_specificity(scores, labels, 0.8) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="specificity must be in"):
        compute_sensitivity_at_specificity(scores, labels, 1.5)


def test_referable_auc_scores_by_probability_of_grade_two_or_more() -> None:
    rng = np.random.default_rng(5)
    probabilities = rng.dirichlet(np.ones(5), size=60)
    grades = rng.integers(0, 5, size=60)
    expected = roc_auc_score(grades >= 2, probabilities[:, 2:].sum(axis=1))
    assert compute_referable_roc_auc(probabilities, grades) == pytest.approx(expected)
    normal = roc_auc_score(grades >= 1, probabilities[:, 1:].sum(axis=1))
    assert compute_referable_roc_auc(probabilities, np.eye(5)[grades], min_grade=1) == pytest.approx(normal)


def test_referable_auc_rejects_logits_naming_the_row() -> None:
    logits = np.array([[0.2, 0.3, 0.5], [2.0, -1.0, 0.5]])
    with pytest.raises(ValueError, match="row 1 is not a probability vector"):
        compute_referable_roc_auc(logits, [0, 2])


@pytest.mark.parametrize(
    ("metric", "reference", "binary"),
    [
        (PerClassROCAUCMetric(), compute_mean_roc_auc, False),
        (PerClassROCAUCMetric(average="none"), compute_per_class_roc_auc, False),
        (ReferableROCAUCMetric(min_grade=2), compute_referable_roc_auc, False),
        (SensitivityAtSpecificityMetric(0.5), compute_sensitivity_at_specificity, True),
    ],
)
def test_cumulative_metric_over_batches_equals_one_shot_function(metric, reference, binary: bool) -> None:
    rng = np.random.default_rng(11)
    probabilities = torch.as_tensor(rng.dirichlet(np.ones(4), size=33))
    grades = torch.as_tensor(rng.integers(0, 4, size=33))
    if binary:
        probabilities, grades = probabilities[:, 1:].sum(dim=1), (grades >= 1).long()
    for start in range(0, 33, 10):
        metric(probabilities[start : start + 10], grades[start : start + 10])
    np.testing.assert_allclose(metric.aggregate(), reference(probabilities.numpy(), grades.numpy()))
