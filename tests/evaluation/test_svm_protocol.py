from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from monai.engines import SupervisedEvaluator
from sklearn.metrics import roc_auc_score
from sklearn.svm import SVC
from torch import nn

from monai_weakloc.evaluation.svm_protocol import (
    MESSIDOR_METRICS_FILE,
    MESSIDOR_ROC_FILE,
    collect_grade_probabilities,
    cross_validated_binary_task,
    evaluate_messidor_protocol,
    transfer_binary_task,
)


def _probability_features(grades: np.ndarray, separable: bool, seed: int) -> np.ndarray:
    """(N, 5) probability rows: peaked on the true grade when ``separable``, random otherwise."""
    rng = np.random.default_rng(seed)
    if separable:
        logits = 4.0 * np.eye(5)[grades] + 0.3 * rng.standard_normal((grades.size, 5))
    else:
        logits = rng.standard_normal((grades.size, 5))
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def test_separable_features_give_auc_1_and_perfect_accuracy_in_cross_validation():
    grades = np.repeat(np.arange(4), 10)
    metrics, (false_positive_rate, true_positive_rate) = cross_validated_binary_task(
        _probability_features(grades, separable=True, seed=0), grades
    )
    assert metrics["auc"] == 1.0 and metrics["accuracy"] == 1.0
    assert metrics["sensitivity_at_specificity"] == 1.0
    assert metrics["num_images"] == 40 and metrics["num_positive"] == 20
    assert len(metrics["fold_auc"]) == 10 and all(value == 1.0 for value in metrics["fold_auc"])
    assert false_positive_rate[0] == 0.0 and true_positive_rate[-1] == 1.0


def test_random_features_give_auc_near_one_half():
    grades = np.tile(np.arange(4), 100)
    metrics, _ = cross_validated_binary_task(_probability_features(grades, separable=False, seed=1), grades)
    assert 0.4 < metrics["auc"] < 0.6
    assert 0.35 < metrics["accuracy"] < 0.65


def test_transfer_task_trains_on_one_set_and_scores_the_other_as_the_reference():
    train_grades, test_grades = np.tile(np.arange(5), 20), np.tile(np.arange(4), 10)
    train = _probability_features(train_grades, separable=True, seed=2)
    test = _probability_features(test_grades, separable=True, seed=3)
    metrics, _ = transfer_binary_task(train, train_grades, test, test_grades, min_grade=1)
    assert metrics["auc"] == 1.0 and metrics["num_train_images"] == 100 and metrics["num_positive"] == 30
    noisy_test = _probability_features(test_grades, separable=False, seed=4)
    noisy, _ = transfer_binary_task(train, train_grades, noisy_test, test_grades, min_grade=1)
    reference = SVC(kernel="rbf").fit(train, (train_grades >= 1).astype(int)).decision_function(noisy_test)
    assert noisy["auc"] == pytest.approx(roc_auc_score((test_grades >= 1).astype(int), reference))


def test_a_test_set_of_one_class_gives_undefined_auc_but_an_accuracy():
    train_grades = np.tile(np.arange(5), 8)
    train = _probability_features(train_grades, separable=True, seed=8)
    healthy = np.zeros(6, dtype=int)
    with pytest.warns(UserWarning, match="undefined"):
        metrics, curve = transfer_binary_task(train, train_grades, _probability_features(healthy, True, 9), healthy)
    assert np.isnan(metrics["auc"]) and np.isnan(metrics["sensitivity_at_specificity"])
    assert metrics["accuracy"] == 1.0 and metrics["num_positive"] == 0 and curve[0].size == 0


def _brute_force_sensitivity(scores: np.ndarray, labels: np.ndarray, specificity: float) -> float:
    """Best sensitivity over every threshold "score >= t" whose specificity reaches the target."""
    best = 0.0
    for threshold in np.concatenate([np.unique(scores), [np.inf]]):
        positive = scores >= threshold
        if np.mean(~positive[labels == 0]) >= specificity:
            best = max(best, float(np.mean(positive[labels == 1])))
    return best


@pytest.mark.parametrize("specificity", [0.5, 0.8, 1.0])
def test_sensitivity_at_specificity_matches_brute_force_on_the_svm_scores(specificity):
    train_grades, test_grades = np.tile(np.arange(5), 12), np.tile(np.arange(4), 10)
    train = _probability_features(train_grades, separable=True, seed=5)
    test = 0.1 * _probability_features(test_grades, separable=True, seed=6) + 0.9 * _probability_features(
        test_grades, separable=False, seed=7
    )
    metrics, _ = transfer_binary_task(train, train_grades, test, test_grades, min_grade=1, specificity=specificity)
    scores = SVC(kernel="rbf").fit(train, (train_grades >= 1).astype(int)).decision_function(test)
    labels = (test_grades >= 1).astype(int)
    assert metrics["sensitivity_at_specificity"] == pytest.approx(_brute_force_sensitivity(scores, labels, specificity))
    assert metrics["accuracy"] == pytest.approx(np.mean((scores > 0) == labels))


def test_errors_name_the_problem():
    grades = np.repeat(np.arange(4), 3)
    features = _probability_features(grades, separable=True, seed=0)
    with pytest.raises(ValueError, match="at least 10 images per class"):
        cross_validated_binary_task(features, grades)
    with pytest.raises(ValueError, match="3 grades"):
        cross_validated_binary_task(features, grades[:3], num_folds=2)
    with pytest.raises(ValueError, match="both classes"):
        transfer_binary_task(features, np.zeros(12, dtype=int), features, grades)
    with pytest.raises(ValueError, match="row 2 is not a non-negative integer"):
        cross_validated_binary_task(features, [0, 1, -1] + [2] * 9, num_folds=2)
    nan_features = features.copy()
    nan_features[5, 0] = np.nan
    with pytest.raises(ValueError, match="feature row 5"):
        cross_validated_binary_task(nan_features, grades, num_folds=2)
    with pytest.raises(ValueError, match="RBF kernel"):
        transfer_binary_task(features, grades, features, grades, svm_options={"kernel": "linear"})


def test_evaluate_messidor_protocol_writes_metrics_and_roc(tmp_path):
    messidor_grades, eyepacs_grades = np.repeat(np.arange(4), 10), np.tile(np.arange(5), 8)
    metrics = evaluate_messidor_protocol(
        _probability_features(messidor_grades, separable=True, seed=0),
        messidor_grades,
        _probability_features(eyepacs_grades, separable=True, seed=1),
        eyepacs_grades,
        out_dir=tmp_path / "out",
    )
    written = json.loads((tmp_path / "out" / MESSIDOR_METRICS_FILE).read_text())
    assert written == json.loads(json.dumps(metrics))
    assert written["referable"]["auc"] == 1.0 and written["normal"]["auc"] == 1.0
    assert written["referable"]["positive"] == "grade >= 2" and written["normal"]["positive"] == "grade >= 1"
    assert (tmp_path / "out" / MESSIDOR_ROC_FILE).stat().st_size > 1000


class _GradeLookup(nn.Module):
    """Logits that put all mass on the grade written in the image's first pixel."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return 10.0 * nn.functional.one_hot(image[:, 0, 0, 0].long(), 5).float()


def test_collect_grade_probabilities_runs_the_evaluator_over_every_image():
    grades = torch.tensor([0, 3, 1, 4, 2])
    images = grades.float()[:, None, None, None].expand(5, 1, 2, 2)
    loader = [{"image": images[:3], "label": grades[:3]}, {"image": images[3:], "label": grades[3:]}]
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"), val_data_loader=loader, network=_GradeLookup(), decollate=False
    )
    features, collected = collect_grade_probabilities(evaluator, lambda output: torch.softmax(output["pred"], 1))
    assert features.shape == (5, 5) and np.array_equal(collected, grades.numpy())
    assert np.array_equal(features.argmax(axis=1), grades.numpy())
    again, _ = collect_grade_probabilities(evaluator, lambda output: torch.softmax(output["pred"], 1))
    assert np.array_equal(again, features)
