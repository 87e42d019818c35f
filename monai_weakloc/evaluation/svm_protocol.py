"""Zoom-in-Net's Messidor protocol: an RBF SVM on the grade probabilities of a network trained on EyePACS.

Zoom-in-Net (Wang et al., MICCAI 2017) is trained on EyePACS (grades 0..4) and evaluated on Messidor
(grades 0..3) without fine-tuning: the trained network gives each image its 5 grade probabilities, and
these 5 numbers are the features of a support vector machine with an RBF kernel. Two binary tasks:

- **referable vs non-referable** on Messidor by stratified 10-fold cross-validation: referable is
  Messidor grade >= 2 (grades 2 and 3), non-referable grades 0 and 1. This is the usual Messidor
  definition in the DR-screening literature the paper compares with; the paper's own text could not be
  checked while this was written, so the threshold is an argument (``min_grade``);
- **normal vs abnormal** (grade 0 vs grade >= 1): the SVM is trained on EyePACS features and tested on
  the Messidor features.

Each task reports ROC AUC, accuracy and the sensitivity at specificity 0.5, computed with the
``weakloc_metrics`` plugin. The SVM is ``sklearn.svm.SVC(kernel="rbf")`` with scikit-learn's defaults
(``C=1``, ``gamma="scale"``); its ``decision_function`` scores the ROC, its predictions (the sign of that
score) the accuracy. In the cross-validation the held-out scores of the 10 folds are pooled into one
ROC (the reported AUC, sensitivity and curve); the per-fold AUCs are reported beside it.

Neither MONAI nor scikit-learn has this protocol; the pieces (SVM, folds, metrics) are theirs and the
plugin's. :func:`collect_grade_probabilities` runs an evaluator (a bundle's preprocessing and trained
network) over a dataset and gathers the features with Ignite's ``EpochOutputStore``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from ignite.handlers import EpochOutputStore
from monai.utils import CommonKeys, convert_to_numpy
from sklearn.metrics import roc_curve
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

from monai_weakloc.evaluation.metric_functions import metric_function
from monai_weakloc.evaluation.results import json_value
from monai_weakloc.report.plots import plot_roc_curves

__all__ = [
    "ABNORMAL_MIN_GRADE",
    "MESSIDOR_METRICS_FILE",
    "MESSIDOR_ROC_FILE",
    "REFERABLE_MIN_GRADE",
    "collect_grade_probabilities",
    "cross_validated_binary_task",
    "evaluate_messidor_protocol",
    "messidor_protocol",
    "transfer_binary_task",
]

logger = logging.getLogger(__name__)

REFERABLE_MIN_GRADE = 2
"""Lowest Messidor grade counted referable."""

ABNORMAL_MIN_GRADE = 1
"""Lowest grade counted abnormal."""

MESSIDOR_METRICS_FILE = "messidor_metrics.json"
MESSIDOR_ROC_FILE = "messidor_roc.png"

RocCurve = tuple[np.ndarray, np.ndarray]


def _features_and_grades(features: Any, grades: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, F) float64 features and (N,) int64 grades, checked.

    Raises:
        ValueError: naming ``name`` for a bad shape, a count mismatch, a non-finite feature or a grade that
            is not a non-negative integer (with its row).
    """
    feature_array = convert_to_numpy(features, wrap_sequence=True).astype(np.float64)
    grade_array = convert_to_numpy(grades, wrap_sequence=True).reshape(-1)
    if feature_array.ndim != 2 or feature_array.shape[0] == 0:
        raise ValueError(f"{name}: features must have shape (N, F) with N >= 1, got {feature_array.shape}")
    if grade_array.shape[0] != feature_array.shape[0]:
        raise ValueError(
            f"{name}: {feature_array.shape[0]} feature rows but {grade_array.shape[0]} grades; give one grade per row"
        )
    bad_rows = np.flatnonzero(~np.isfinite(feature_array).all(axis=1))
    if bad_rows.size:
        raise ValueError(f"{name}: feature row {int(bad_rows[0])} holds a NaN or infinite value")
    not_grade = np.flatnonzero((grade_array < 0) | (np.round(grade_array) != grade_array))
    if not_grade.size:
        row = int(not_grade[0])
        raise ValueError(f"{name}: grade {grade_array[row]} in row {row} is not a non-negative integer")
    return feature_array, grade_array.astype(np.int64)


def _binary_labels(grades: np.ndarray, min_grade: int, name: str, need_both: bool) -> np.ndarray:
    """(N,) 0/1 labels ``grade >= min_grade``; with ``need_both``, raise unless both classes occur."""
    if min_grade < 1:
        raise ValueError(f"{name}: min_grade must be at least 1, got {min_grade}")
    labels = (grades >= min_grade).astype(np.int64)
    if need_both and np.unique(labels).size < 2:
        raise ValueError(
            f"{name}: the SVM needs both classes, but every grade is "
            f"{'>=' if labels[0] else '<'} {min_grade} ({labels.size} images)"
        )
    return labels


def _svm(svm_options: Mapping[str, Any] | None) -> SVC:
    """The RBF SVM; ``svm_options`` (``C``, ``gamma``, ``class_weight`` ...) override scikit-learn's defaults."""
    options = dict(svm_options or {})
    if options.get("kernel", "rbf") != "rbf":
        raise ValueError(f"svm_options: the protocol uses an RBF kernel, got kernel={options['kernel']!r}")
    options["kernel"] = "rbf"
    return SVC(**options)


def _binary_metrics(scores: np.ndarray, labels: np.ndarray, specificity: float) -> tuple[dict[str, Any], RocCurve]:
    """AUC, accuracy (score > 0 is positive) and sensitivity at ``specificity`` of SVM scores, and the ROC."""
    compute_per_class_roc_auc = metric_function("compute_per_class_roc_auc")
    compute_accuracy = metric_function("compute_accuracy")
    compute_sensitivity_at_specificity = metric_function("compute_sensitivity_at_specificity")
    predicted = (scores > 0).astype(np.int64)
    metrics = {
        "auc": float(compute_per_class_roc_auc(scores, labels)[0]),
        "accuracy": compute_accuracy(predicted, labels),
        "sensitivity_at_specificity": compute_sensitivity_at_specificity(scores, labels, specificity),
        "specificity": specificity,
        "num_images": int(labels.size),
        "num_positive": int(labels.sum()),
    }
    if np.unique(labels).size < 2:
        return metrics, (np.array([]), np.array([]))
    false_positive_rate, true_positive_rate, _ = roc_curve(labels, scores)
    return metrics, (false_positive_rate, true_positive_rate)


def cross_validated_binary_task(
    features: Any,
    grades: Any,
    min_grade: int = REFERABLE_MIN_GRADE,
    num_folds: int = 10,
    seed: int = 0,
    specificity: float = 0.5,
    svm_options: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], RocCurve]:
    """RBF SVM on "grade >= ``min_grade``" by stratified k-fold cross-validation.

    Args:
        features: (N, F) features per image (the 5 grade probabilities in the protocol).
        grades: (N,) grades.
        min_grade: lowest grade counted positive (2: referable).
        num_folds: k of the stratified k-fold split (10 in the protocol).
        seed: seed of the shuffled fold split.
        specificity: where the sensitivity is read.
        svm_options: further ``sklearn.svm.SVC`` arguments.

    Returns:
        The metrics of the pooled held-out scores (``auc``, ``accuracy``, ``sensitivity_at_specificity``,
        ``specificity``, ``num_images``, ``num_positive``) plus ``fold_auc`` ((k,) AUC of each fold) and
        ``num_folds``; and the pooled ROC curve (false-positive rates, true-positive rates).

    Raises:
        ValueError: on bad features or grades, a class with fewer than ``num_folds`` images, or
            ``num_folds`` < 2.
    """
    feature_array, grade_array = _features_and_grades(features, grades, "cross-validated task")
    labels = _binary_labels(grade_array, min_grade, "cross-validated task", need_both=True)
    if num_folds < 2:
        raise ValueError(f"num_folds must be at least 2, got {num_folds}")
    smallest = int(min(labels.sum(), labels.size - labels.sum()))
    if smallest < num_folds:
        raise ValueError(
            f"cross-validated task: {num_folds}-fold stratified cross-validation needs at least {num_folds} images "
            f"per class, but grade >= {min_grade} has {int(labels.sum())} and grade < {min_grade} has "
            f"{int(labels.size - labels.sum())}"
        )
    compute_per_class_roc_auc = metric_function("compute_per_class_roc_auc")
    scores = np.zeros(labels.size)
    fold_auc = []
    folds = StratifiedKFold(n_splits=num_folds, shuffle=True, random_state=seed)
    for train_rows, test_rows in folds.split(feature_array, labels):
        svm = _svm(svm_options).fit(feature_array[train_rows], labels[train_rows])
        scores[test_rows] = svm.decision_function(feature_array[test_rows])
        fold_auc.append(float(compute_per_class_roc_auc(scores[test_rows], labels[test_rows])[0]))
    metrics, curve = _binary_metrics(scores, labels, specificity)
    metrics["num_folds"] = num_folds
    metrics["fold_auc"] = fold_auc
    return metrics, curve


def transfer_binary_task(
    train_features: Any,
    train_grades: Any,
    test_features: Any,
    test_grades: Any,
    min_grade: int = ABNORMAL_MIN_GRADE,
    specificity: float = 0.5,
    svm_options: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], RocCurve]:
    """RBF SVM on "grade >= ``min_grade``", trained on one dataset's features and tested on another's.

    Args:
        train_features: (N_train, F) features of the training set (EyePACS in the protocol).
        train_grades: (N_train,) its grades.
        test_features: (N_test, F) features of the test set (Messidor).
        test_grades: (N_test,) its grades.
        min_grade: lowest grade counted positive (1: abnormal).
        specificity: where the sensitivity is read.
        svm_options: further ``sklearn.svm.SVC`` arguments.

    Returns:
        The test-set metrics (``auc``, ``accuracy``, ``sensitivity_at_specificity``, ``specificity``,
        ``num_images``, ``num_positive``) plus ``num_train_images``; and the test ROC curve. AUC and
        sensitivity are NaN (with a warning) when the test grades hold one class only.

    Raises:
        ValueError: on bad features or grades, a training set with one class only, or train and test
            features of different widths.
    """
    train_x, train_y = _features_and_grades(train_features, train_grades, "transfer task (training set)")
    test_x, test_y = _features_and_grades(test_features, test_grades, "transfer task (test set)")
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(
            f"transfer task: training features have {train_x.shape[1]} columns but test features {test_x.shape[1]}"
        )
    train_labels = _binary_labels(train_y, min_grade, "transfer task (training set)", need_both=True)
    test_labels = _binary_labels(test_y, min_grade, "transfer task (test set)", need_both=False)
    svm = _svm(svm_options).fit(train_x, train_labels)
    metrics, curve = _binary_metrics(svm.decision_function(test_x), test_labels, specificity)
    metrics["num_train_images"] = int(train_labels.size)
    return metrics, curve


def messidor_protocol(
    messidor_features: Any,
    messidor_grades: Any,
    eyepacs_features: Any,
    eyepacs_grades: Any,
    num_folds: int = 10,
    seed: int = 0,
    specificity: float = 0.5,
    svm_options: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, RocCurve]]:
    """Both tasks of the protocol (see the module docstring).

    Args:
        messidor_features: (N_m, K) grade probabilities of the Messidor images.
        messidor_grades: (N_m,) their Messidor grades 0..3.
        eyepacs_features: (N_e, K) grade probabilities of EyePACS images.
        eyepacs_grades: (N_e,) their EyePACS grades 0..4.
        num_folds: folds of the referable cross-validation.
        seed: seed of the fold split.
        specificity: where the sensitivities are read.
        svm_options: further ``sklearn.svm.SVC`` arguments.

    Returns:
        ``{"referable": ..., "normal": ...}`` metrics (see :func:`cross_validated_binary_task` and
        :func:`transfer_binary_task`, each with ``protocol`` and ``positive`` describing it) and the ROC
        curves keyed by plot legend.
    """
    referable, referable_curve = cross_validated_binary_task(
        messidor_features, messidor_grades, REFERABLE_MIN_GRADE, num_folds, seed, specificity, svm_options
    )
    normal, normal_curve = transfer_binary_task(
        eyepacs_features,
        eyepacs_grades,
        messidor_features,
        messidor_grades,
        ABNORMAL_MIN_GRADE,
        specificity,
        svm_options,
    )
    referable = {
        "protocol": f"RBF SVM, {num_folds}-fold stratified cross-validation on Messidor",
        "positive": f"grade >= {REFERABLE_MIN_GRADE}",
        **referable,
    }
    normal = {
        "protocol": "RBF SVM trained on EyePACS, tested on Messidor",
        "positive": f"grade >= {ABNORMAL_MIN_GRADE}",
        **normal,
    }
    curves = {
        f"referable ({num_folds}-fold CV), AUC {referable['auc']:.3f}": referable_curve,
        f"normal vs abnormal (EyePACS -> Messidor), AUC {normal['auc']:.3f}": normal_curve,
    }
    return {"referable": referable, "normal": normal}, curves


def evaluate_messidor_protocol(
    messidor_features: Any,
    messidor_grades: Any,
    eyepacs_features: Any,
    eyepacs_grades: Any,
    out_dir: str | Path,
    num_folds: int = 10,
    seed: int = 0,
    specificity: float = 0.5,
    svm_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run :func:`messidor_protocol` and write ``messidor_metrics.json`` and ``messidor_roc.png`` to ``out_dir``.

    Args:
        messidor_features: (N_m, K) grade probabilities of the Messidor images.
        messidor_grades: (N_m,) their Messidor grades 0..3.
        eyepacs_features: (N_e, K) grade probabilities of EyePACS images.
        eyepacs_grades: (N_e,) their EyePACS grades 0..4.
        out_dir: the output folder (created if missing).
        num_folds: folds of the referable cross-validation.
        seed: seed of the fold split.
        specificity: where the sensitivities are read.
        svm_options: further ``sklearn.svm.SVC`` arguments.

    Returns:
        The metrics written (see :func:`messidor_protocol`; NaN is written as ``null``).
    """
    metrics, curves = messidor_protocol(
        messidor_features, messidor_grades, eyepacs_features, eyepacs_grades, num_folds, seed, specificity, svm_options
    )
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MESSIDOR_METRICS_FILE).write_text(
        json.dumps(json_value(metrics), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    plot_roc_curves(curves, folder / MESSIDOR_ROC_FILE, title="Messidor: RBF SVM on grade probabilities")
    logger.info(
        "Messidor protocol: referable AUC %.3f, normal AUC %.3f; wrote %s and %s in %s",
        metrics["referable"]["auc"], metrics["normal"]["auc"], MESSIDOR_METRICS_FILE, MESSIDOR_ROC_FILE, folder,
    )
    return metrics


def collect_grade_probabilities(
    evaluator: Engine,
    probabilities: Callable[[Any], torch.Tensor],
    label_key: str = CommonKeys.LABEL,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``evaluator`` once over its data and gather the grade probabilities and true grades of every image.

    Args:
        evaluator: a MONAI evaluator with ``decollate=False`` (its ``state.output`` is the batch's dict).
        probabilities: ``probabilities(state.output)`` -> (B, K) grade probabilities of the batch.
        label_key: key of the (B,) or (B, 1) true grades in ``state.output``.

    Returns:
        (N, K) float64 probabilities and (N,) int64 grades, in data-loader order.

    Raises:
        ValueError: when the evaluator saw no image.
    """
    store = EpochOutputStore(
        output_transform=lambda output: (
            probabilities(output).detach().float().cpu(),
            torch.as_tensor(output[label_key]).detach().cpu().reshape(-1),
        )
    )
    store.attach(evaluator)
    try:
        evaluator.run()
    finally:
        evaluator.remove_event_handler(store.reset, Events.EPOCH_STARTED)
        evaluator.remove_event_handler(store.update, Events.ITERATION_COMPLETED)
    if not store.data:
        raise ValueError("collect_grade_probabilities: the evaluator's data loader gave no batch")
    features = torch.cat([batch_probabilities for batch_probabilities, _ in store.data]).double().numpy()
    grades = torch.cat([batch_grades for _, batch_grades in store.data]).long().numpy()
    return features, grades
