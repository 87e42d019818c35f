"""Single-label grading metrics: quadratic weighted kappa, accuracy, within-one-grade accuracy, confusion matrix.

Each metric comes as a pure function on arrays (``compute_<name>``) and as a MONAI
``CumulativeIterationMetric`` that stores the predicted and true grade of every sample and computes the
metric over everything seen (all-gathered across ranks under DDP). MONAI has no kappa and its
``ConfusionMatrixMetric`` reports per-class TP/FP/TN/FN rather than the K x K table, hence this module;
kappa and the table come from scikit-learn, whose ``cohen_kappa_score`` is the EyePACS reference.

Inputs, for functions and classes alike:

- ``y_pred``: shape (B,) or (B, 1) of predicted grades (integer values), or (B, K) with K > 1 of class
  probabilities, logits or one-hot rows, reduced to grades by arg-max.
- ``y``: true grades in the same forms (usually (B,) integers or (B, K) one-hot rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric
from monai.utils import convert_to_numpy
from sklearn.metrics import cohen_kappa_score, confusion_matrix

__all__ = [
    "as_grades",
    "compute_quadratic_weighted_kappa",
    "compute_accuracy",
    "compute_within_one_grade_accuracy",
    "compute_class_confusion_matrix",
    "QuadraticWeightedKappaMetric",
    "SingleLabelAccuracyMetric",
    "WithinOneGradeAccuracyMetric",
    "ClassConfusionMatrixMetric",
]


def as_grades(values: Any, name: str) -> np.ndarray:
    """Turn grades, probabilities or one-hot rows into one integer grade per sample.

    Args:
        values: (B,) or (B, 1) integer-valued grades, or (B, K) with K > 1 rows reduced by arg-max.
        name: the argument's name, used in error messages (``y_pred`` or ``y``).

    Returns:
        (B,) int64 grades.

    Raises:
        ValueError: if ``values`` has another shape, or a (B,) / (B, 1) value is not a whole number.
    """
    array = convert_to_numpy(values, wrap_sequence=True)
    if array.ndim == 2 and array.shape[1] > 1:
        return np.argmax(array, axis=1).astype(np.int64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must have shape (B,), (B, 1) or (B, K), got {tuple(array.shape)}")
    not_whole = np.flatnonzero(np.round(array) != array)
    if not_whole.size:
        index = int(not_whole[0])
        raise ValueError(f"{name}[{index}] = {array[index]} is not a whole grade; round regression outputs first")
    return array.astype(np.int64)


def _grade_pairs(y_pred: Any, y: Any, num_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as (B,) int64 grades of equal length, checked against ``0..num_classes-1`` if given."""
    pred, true = as_grades(y_pred, "y_pred"), as_grades(y, "y")
    if pred.shape != true.shape:
        raise ValueError(f"y_pred has {pred.shape[0]} samples but y has {true.shape[0]}")
    if pred.size == 0:
        raise ValueError("y_pred and y are empty; a grading metric needs at least one sample")
    if num_classes is not None:
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        for name, grades in (("y_pred", pred), ("y", true)):
            outside = np.flatnonzero((grades < 0) | (grades >= num_classes))
            if outside.size:
                index = int(outside[0])
                raise ValueError(f"{name}[{index}] = {grades[index]} is not a grade in 0..{num_classes - 1}")
    return pred, true


def compute_quadratic_weighted_kappa(y_pred: Any, y: Any, num_classes: int) -> float:
    """Quadratic weighted Cohen's kappa over all ``num_classes`` grades (the EyePACS metric).

    Always passes ``labels=range(num_classes)`` to ``sklearn.metrics.cohen_kappa_score``, so that a grade
    missing from both raters does not change the weights.

    Args:
        y_pred: predicted grades (B,) / (B, 1), or (B, K) probabilities.
        y: true grades (B,) / (B, 1), or (B, K) one-hot.
        num_classes: number of grades K.

    Returns:
        kappa in [-1, 1]; NaN when it is undefined (every sample of both raters in one grade).
    """
    pred, true = _grade_pairs(y_pred, y, num_classes)
    return float(cohen_kappa_score(true, pred, weights="quadratic", labels=list(range(num_classes))))


def compute_accuracy(y_pred: Any, y: Any) -> float:
    """Share of samples whose predicted grade (or class) equals the true one.

    Args:
        y_pred: predicted grades (B,) / (B, 1), or (B, K) probabilities.
        y: true grades (B,) / (B, 1), or (B, K) one-hot.
    """
    pred, true = _grade_pairs(y_pred, y)
    return float(np.mean(pred == true))


def compute_within_one_grade_accuracy(y_pred: Any, y: Any) -> float:
    """Share of samples whose predicted grade is at most one grade away from the true grade.

    Args:
        y_pred: predicted grades (B,) / (B, 1), or (B, K) probabilities.
        y: true grades (B,) / (B, 1), or (B, K) one-hot.
    """
    pred, true = _grade_pairs(y_pred, y)
    return float(np.mean(np.abs(pred - true) <= 1))


def compute_class_confusion_matrix(y_pred: Any, y: Any, num_classes: int) -> np.ndarray:
    """K x K confusion matrix over all ``num_classes`` classes, rows true, columns predicted.

    Args:
        y_pred: predicted grades (B,) / (B, 1), or (B, K) probabilities.
        y: true grades (B,) / (B, 1), or (B, K) one-hot.
        num_classes: number of classes K; classes absent from the data get rows/columns of zeros.

    Returns:
        (K, K) int64 counts; entry [i, j] counts samples of true class i predicted as class j.
    """
    pred, true = _grade_pairs(y_pred, y, num_classes)
    return confusion_matrix(true, pred, labels=list(range(num_classes))).astype(np.int64)


class _GradePairsMetric(CumulativeIterationMetric):
    """Stores the predicted and true grade of every sample; subclasses aggregate them."""

    def _compute_tensor(  # type: ignore[override]
        self, y_pred: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reduce a batch to grades.

        Args:
            y_pred: (B,), (B, 1) or (B, K) predictions.
            y: (B,), (B, 1) or (B, K) truth.

        Returns:
            (B,) predicted grades and (B,) true grades, int64.
        """
        if y is None:
            raise ValueError(f"{type(self).__name__} needs the true grades y")
        pred, true = _grade_pairs(y_pred, y)
        return torch.from_numpy(pred), torch.from_numpy(true)

    def _buffered_grades(self) -> tuple[np.ndarray, np.ndarray]:
        buffers = self.get_buffer()
        if buffers is None:
            raise ValueError(f"{type(self).__name__} has seen no samples; call it on a batch before aggregate()")
        pred, true = buffers
        return pred.numpy(), true.numpy()


class QuadraticWeightedKappaMetric(_GradePairsMetric):
    """Quadratic weighted kappa accumulated over iterations; see :func:`compute_quadratic_weighted_kappa`.

    Args:
        num_classes: number of grades K.
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes

    def aggregate(self) -> float:  # type: ignore[override]
        """Kappa over every sample seen since the last ``reset()``."""
        pred, true = self._buffered_grades()
        return compute_quadratic_weighted_kappa(pred, true, self.num_classes)


class SingleLabelAccuracyMetric(_GradePairsMetric):
    """Accuracy accumulated over iterations; see :func:`compute_accuracy`."""

    def aggregate(self) -> float:  # type: ignore[override]
        """Accuracy over every sample seen since the last ``reset()``."""
        pred, true = self._buffered_grades()
        return compute_accuracy(pred, true)


class WithinOneGradeAccuracyMetric(_GradePairsMetric):
    """Within-one-grade accuracy accumulated over iterations; see :func:`compute_within_one_grade_accuracy`."""

    def aggregate(self) -> float:  # type: ignore[override]
        """Within-one-grade accuracy over every sample seen since the last ``reset()``."""
        pred, true = self._buffered_grades()
        return compute_within_one_grade_accuracy(pred, true)


class ClassConfusionMatrixMetric(_GradePairsMetric):
    """K x K confusion matrix accumulated over iterations; see :func:`compute_class_confusion_matrix`.

    Args:
        num_classes: number of classes K.
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes

    def aggregate(self) -> np.ndarray:  # type: ignore[override]
        """(K, K) counts over every sample seen since the last ``reset()``, rows true, columns predicted."""
        pred, true = self._buffered_grades()
        return compute_class_confusion_matrix(pred, true, self.num_classes)
