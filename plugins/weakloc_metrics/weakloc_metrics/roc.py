"""ROC metrics: per-class and mean ROC AUC, sensitivity at a given specificity, referable (grade >= g) AUC.

Built on ``monai.metrics.compute_roc_auc`` for every AUC. What this module adds to MONAI's ``ROCAUCMetric``:

- single-label truth given as class indices (B,) is turned into one-hot rows;
- a class whose truth holds a single value (all positive or all negative) gets NaN with a warning that
  names the class, and the **mean leaves such classes out** (MONAI's macro mean becomes NaN instead);
- the operating point "sensitivity at specificity", which MONAI lacks (the ROC curve comes from
  ``sklearn.metrics.roc_curve``);
- the binary AUC of "grade >= g" from grade probabilities (EyePACS/Messidor referable and normal AUC).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric, compute_roc_auc
from monai.utils import convert_to_numpy
from sklearn.metrics import roc_curve

__all__ = [
    "as_indicator_matrix",
    "probability_of_grade_at_least",
    "compute_per_class_roc_auc",
    "compute_mean_roc_auc",
    "compute_sensitivity_at_specificity",
    "compute_referable_roc_auc",
    "PerClassROCAUCMetric",
    "SensitivityAtSpecificityMetric",
    "ReferableROCAUCMetric",
]

AVERAGES = ("macro", "none")


def as_indicator_matrix(y: Any, num_classes: int) -> np.ndarray:
    """Truth as a (B, K) 0/1 matrix.

    Args:
        y: (B,) class indices in ``0..K-1`` (single-label; with K = 1, the binary labels themselves), or
            (B, K) one-hot / multi-hot rows of 0 and 1.
        num_classes: K, the number of score columns.

    Returns:
        (B, K) float64 matrix of 0 and 1.

    Raises:
        ValueError: on a shape that matches neither form, or a value that is not a class index / not 0 or 1.
    """
    array = convert_to_numpy(y, wrap_sequence=True)
    if array.ndim == 2 and array.shape[1] == 1 and num_classes != 1:
        array = array[:, 0]
    if array.ndim == 1 and num_classes == 1:
        array = array[:, None]
    if array.ndim == 1:
        outside = np.flatnonzero((array < 0) | (array >= num_classes) | (np.round(array) != array))
        if outside.size:
            index = int(outside[0])
            raise ValueError(f"y[{index}] = {array[index]} is not a class index in 0..{num_classes - 1}")
        return np.eye(num_classes)[array.astype(np.int64)]
    if array.ndim != 2 or array.shape[1] != num_classes:
        raise ValueError(f"y must have shape (B,) or (B, {num_classes}) to match y_pred, got {tuple(array.shape)}")
    bad = np.argwhere((array != 0) & (array != 1))
    if bad.size:
        row, column = (int(i) for i in bad[0])
        raise ValueError(f"y[{row}, {column}] = {array[row, column]}; one-hot/multi-hot truth must be 0 or 1")
    return array.astype(np.float64)


def _as_score_matrix(y_pred: Any) -> np.ndarray:
    """Scores as a (B, K) float64 matrix; (B,) becomes (B, 1)."""
    array = convert_to_numpy(y_pred, wrap_sequence=True).astype(np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"y_pred must have shape (B,) or (B, K), got {tuple(array.shape)}")
    if not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0][0])
        raise ValueError(f"y_pred row {row} holds a NaN or infinite score")
    return array


def _binary_auc(scores: np.ndarray, labels: np.ndarray, what: str) -> float:
    """MONAI's AUC of one column, NaN with a warning naming ``what`` when the labels hold one value."""
    if np.unique(labels).size < 2:
        warnings.warn(f"ROC AUC of {what} is undefined: every sample is {int(labels[0])}; returning NaN", stacklevel=3)
        return float("nan")
    return float(compute_roc_auc(torch.as_tensor(scores), torch.as_tensor(labels)))


def compute_per_class_roc_auc(y_pred: Any, y: Any) -> np.ndarray:
    """ROC AUC of every class, one-vs-rest, for single-label and multi-label data.

    Args:
        y_pred: (B, K) scores (probabilities or logits) per class; (B,) for one binary score.
        y: (B,) class indices (single-label), or (B, K) one-hot (single-label) or multi-hot (multi-label).

    Returns:
        (K,) float64 AUCs. A class whose truth holds a single value (absent from the batch, or present in
        every sample) gets NaN, with a warning naming the class.
    """
    scores = _as_score_matrix(y_pred)
    truth = as_indicator_matrix(y, scores.shape[1])
    if truth.shape[0] != scores.shape[0]:
        raise ValueError(f"y_pred has {scores.shape[0]} samples but y has {truth.shape[0]}")
    if scores.shape[0] == 0:
        raise ValueError("y_pred and y are empty; ROC AUC needs at least one sample")
    return np.array([_binary_auc(scores[:, k], truth[:, k], f"class {k}") for k in range(scores.shape[1])])


def compute_mean_roc_auc(y_pred: Any, y: Any) -> float:
    """Mean ROC AUC over the classes where it is defined; see :func:`compute_per_class_roc_auc`.

    Classes whose truth holds a single value are left out of the mean (each with a warning). Returns NaN,
    with a warning, when no class has both values.
    """
    per_class = compute_per_class_roc_auc(y_pred, y)
    defined = per_class[~np.isnan(per_class)]
    if defined.size == 0:
        warnings.warn("mean ROC AUC is undefined: no class has both positive and negative samples", stacklevel=2)
        return float("nan")
    return float(defined.mean())


def _binary_inputs(y_pred: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """(B,) scores and (B,) 0/1 labels from (B,) or (B, 1) inputs."""
    scores = _as_score_matrix(y_pred)
    if scores.shape[1] != 1:
        raise ValueError(
            f"y_pred must hold one score per sample, shape (B,) or (B, 1), got {tuple(scores.shape)}; "
            "pass the positive class's column"
        )
    labels = as_indicator_matrix(y, 1)
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(f"y_pred has {scores.shape[0]} samples but y has {labels.shape[0]}")
    return scores[:, 0], labels[:, 0]


def compute_sensitivity_at_specificity(y_pred: Any, y: Any, specificity: float = 0.5) -> float:
    """Best sensitivity among the ROC operating points whose specificity is at least ``specificity``.

    No interpolation: the ROC curve of ``sklearn.metrics.roc_curve`` (every threshold kept) is searched for
    the points with specificity >= the target, and the highest sensitivity among them is returned, so the
    value is always reachable by thresholding the scores. (Zoom-in-Net reports sensitivity at
    specificity 0.5 on Messidor.)

    Args:
        y_pred: (B,) or (B, 1) scores of the positive class.
        y: (B,) or (B, 1) labels, 1 positive and 0 negative.
        specificity: the target specificity in [0, 1].

    Returns:
        sensitivity in [0, 1]; NaN with a warning when ``y`` holds only positives or only negatives.
    """
    if not 0.0 <= specificity <= 1.0:
        raise ValueError(f"specificity must be in [0, 1], got {specificity}")
    scores, labels = _binary_inputs(y_pred, y)
    if np.unique(labels).size < 2:
        warnings.warn("sensitivity at specificity is undefined: y holds a single class; returning NaN", stacklevel=2)
        return float("nan")
    false_positive_rate, true_positive_rate, _ = roc_curve(labels, scores, drop_intermediate=False)
    reachable = 1.0 - false_positive_rate >= specificity - 1e-12
    return float(true_positive_rate[reachable].max())


def probability_of_grade_at_least(y_pred: Any, min_grade: int) -> np.ndarray:
    """P(grade >= ``min_grade``) from grade probabilities.

    Args:
        y_pred: (B, K) grade probabilities (softmax applied), each row summing to 1.
        min_grade: the lowest grade counted positive, in 1..K-1 (2: referable DR on EyePACS; 1: abnormal).

    Returns:
        (B,) float64 probabilities.

    Raises:
        ValueError: if a row is not a probability vector (values outside [0, 1] or a sum other than 1),
            naming the row, or ``min_grade`` is out of range.
    """
    probabilities = _as_score_matrix(y_pred)
    num_classes = probabilities.shape[1]
    if not 1 <= min_grade <= num_classes - 1:
        raise ValueError(f"min_grade must be in 1..{num_classes - 1} for {num_classes} grades, got {min_grade}")
    outside_unit_interval = ((probabilities < 0) | (probabilities > 1)).any(axis=1)
    not_probability = np.flatnonzero(outside_unit_interval | ~np.isclose(probabilities.sum(axis=1), 1.0, atol=1e-3))
    if not_probability.size:
        row = int(not_probability[0])
        raise ValueError(f"y_pred row {row} is not a probability vector (apply softmax first): {probabilities[row]}")
    return probabilities[:, min_grade:].sum(axis=1)


def compute_referable_roc_auc(y_pred: Any, y: Any, min_grade: int = 2) -> float:
    """Binary ROC AUC of "grade >= ``min_grade``" scored by P(grade >= ``min_grade``).

    ``min_grade=2`` gives the referable/non-referable AUC, ``min_grade=1`` the normal/abnormal AUC.

    Args:
        y_pred: (B, K) grade probabilities.
        y: (B,) / (B, 1) true grades or (B, K) one-hot rows.
        min_grade: lowest grade counted positive.

    Returns:
        AUC; NaN with a warning when every true grade falls on one side of ``min_grade``.
    """
    scores = probability_of_grade_at_least(y_pred, min_grade)
    one_hot = as_indicator_matrix(y, convert_to_numpy(y_pred, wrap_sequence=True).shape[1])
    if one_hot.shape[0] != scores.shape[0]:
        raise ValueError(f"y_pred has {scores.shape[0]} samples but y has {one_hot.shape[0]}")
    not_one_grade = np.flatnonzero(one_hot.sum(axis=1) != 1)
    if not_one_grade.size:
        raise ValueError(f"y row {int(not_one_grade[0])} is not one-hot; each sample has exactly one true grade")
    positive = (np.argmax(one_hot, axis=1) >= min_grade).astype(np.float64)
    return _binary_auc(scores, positive, f"grade >= {min_grade}")


class _ScoreLabelPairsMetric(CumulativeIterationMetric):
    """Stores (y_pred, y) of every sample, as ``monai.metrics.ROCAUCMetric`` does; subclasses aggregate."""

    def _compute_tensor(  # type: ignore[override]
        self, y_pred: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if y is None:
            raise ValueError(f"{type(self).__name__} needs the truth y")
        return y_pred, y

    def _buffered_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        buffers = self.get_buffer()
        if buffers is None:
            raise ValueError(f"{type(self).__name__} has seen no samples; call it on a batch before aggregate()")
        y_pred, y = buffers
        return y_pred.numpy(), y.numpy()


class PerClassROCAUCMetric(_ScoreLabelPairsMetric):
    """Per-class or mean ROC AUC accumulated over iterations; see :func:`compute_per_class_roc_auc`.

    Args:
        average: ``"macro"`` for the mean over the classes where AUC is defined (classes whose truth holds
            a single value are left out, with a warning), ``"none"`` for the (K,) per-class AUCs with NaN
            for those classes.
    """

    def __init__(self, average: str = "macro") -> None:
        super().__init__()
        if average not in AVERAGES:
            raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
        self.average = average

    def aggregate(self) -> float | np.ndarray:  # type: ignore[override]
        """Mean AUC (``"macro"``) or (K,) AUCs (``"none"``) over every sample seen since ``reset()``."""
        y_pred, y = self._buffered_pairs()
        if self.average == "none":
            return compute_per_class_roc_auc(y_pred, y)
        return compute_mean_roc_auc(y_pred, y)


class SensitivityAtSpecificityMetric(_ScoreLabelPairsMetric):
    """Sensitivity at a specificity, accumulated; see :func:`compute_sensitivity_at_specificity`.

    Args:
        specificity: the target specificity in [0, 1].
    """

    def __init__(self, specificity: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= specificity <= 1.0:
            raise ValueError(f"specificity must be in [0, 1], got {specificity}")
        self.specificity = specificity

    def aggregate(self) -> float:  # type: ignore[override]
        """Sensitivity over every sample seen since the last ``reset()``."""
        y_pred, y = self._buffered_pairs()
        return compute_sensitivity_at_specificity(y_pred, y, self.specificity)


class ReferableROCAUCMetric(_ScoreLabelPairsMetric):
    """AUC of "grade >= ``min_grade``" from grade probabilities, accumulated; see :func:`compute_referable_roc_auc`.

    Args:
        min_grade: the lowest grade counted positive (2: referable, 1: abnormal).
    """

    def __init__(self, min_grade: int = 2) -> None:
        super().__init__()
        self.min_grade = min_grade

    def aggregate(self) -> float:  # type: ignore[override]
        """AUC over every sample seen since the last ``reset()``."""
        y_pred, y = self._buffered_pairs()
        return compute_referable_roc_auc(y_pred, y, self.min_grade)
