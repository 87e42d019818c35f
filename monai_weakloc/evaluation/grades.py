"""Evaluate predicted grades (EyePACS, Messidor, IDRiD) against a truth table.

Inputs: a truth CSV ``image,level`` and a prediction CSV ``image,level[,prob_0..prob_{K-1}]`` (other
columns ignored), matched by image id (see :func:`monai_weakloc.evaluation.tables.image_id`). Every truth
image needs a prediction; predictions without truth are ignored with a warning.

Metrics (from the ``weakloc_metrics`` plugin): quadratic weighted kappa over all K grades, accuracy,
within-one-grade accuracy, the K x K confusion matrix and, with probabilities, per-class one-vs-rest
ROC AUC and their mean, the normal/abnormal AUC (P(grade >= 1)) and the referable AUC (P(grade >= 2)),
each with the sensitivity at specificity 0.5 (Zoom-in-Net's Messidor operating point).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_curve

from monai_weakloc.evaluation.metric_functions import metric_function
from monai_weakloc.evaluation.results import write_metrics_json
from monai_weakloc.evaluation.tables import GradeTable, matched_ids, read_grade_table
from monai_weakloc.report.plots import plot_confusion_matrix, plot_roc_curves

__all__ = ["SPECIFICITY", "BINARY_TASKS", "evaluate_grades"]

SPECIFICITY = 0.5
"""The specificity at which the sensitivity of the binary tasks is reported."""

BINARY_TASKS: dict[str, int] = {"normal": 1, "referable": 2}
"""Binary tasks scored by P(grade >= g): name -> g (normal/abnormal: g = 1; referable: g = 2)."""


def _rows_of(table: GradeTable, ids: list[str]) -> np.ndarray:
    """(N,) row indices of ``ids`` in ``table``."""
    position = {identifier: index for index, identifier in enumerate(table.ids)}
    return np.array([position[identifier] for identifier in ids], dtype=np.int64)


def _number_of_grades(truth: GradeTable, prediction: GradeTable, num_classes: int | None) -> int:
    """K: ``num_classes``, else the number of probability columns, else the largest grade seen + 1 (at least 2)."""
    probability_columns = None if prediction.probabilities is None else prediction.probabilities.shape[1]
    if num_classes is not None:
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if probability_columns is not None and probability_columns != num_classes:
            raise ValueError(
                f"{prediction.path}: {probability_columns} probability columns prob_0..prob_{probability_columns - 1} "
                f"but num_classes is {num_classes}"
            )
        return num_classes
    if probability_columns is not None:
        return probability_columns
    return max(2, int(truth.grades.max()) + 1, int(prediction.grades.max()) + 1)


def _check_grades(table: GradeTable, rows: np.ndarray, num_classes: int) -> None:
    """Raise ``ValueError`` naming the file and row of the first grade outside 0..K-1."""
    outside = [index for index in rows if table.grades[index] >= num_classes]
    if outside:
        index = outside[0]
        raise ValueError(
            f"{table.path}, row {table.rows[index]}: level {table.grades[index]} is not a grade in 0..{num_classes - 1}"
        )


def _binary_task_metrics(probabilities: np.ndarray, grades: np.ndarray) -> tuple[dict[str, float], dict]:
    """AUC and sensitivity at :data:`SPECIFICITY` of each binary task that K allows, and their ROC curves."""
    probability_of_grade_at_least = metric_function("probability_of_grade_at_least")
    compute_referable_roc_auc = metric_function("compute_referable_roc_auc")
    compute_sensitivity_at_specificity = metric_function("compute_sensitivity_at_specificity")
    metrics: dict[str, float] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for task, min_grade in BINARY_TASKS.items():
        if min_grade > probabilities.shape[1] - 1:
            continue
        scores = probability_of_grade_at_least(probabilities, min_grade)
        positive = (grades >= min_grade).astype(np.float64)
        auc = compute_referable_roc_auc(probabilities, grades, min_grade)
        metrics[f"{task}_auc"] = auc
        metrics[f"{task}_sensitivity_at_specificity"] = compute_sensitivity_at_specificity(
            scores, positive, SPECIFICITY
        )
        if np.unique(positive).size == 2:
            false_positive_rate, true_positive_rate, _ = roc_curve(positive, scores)
            curves[f"{task} (grade >= {min_grade}), AUC {auc:.3f}"] = (false_positive_rate, true_positive_rate)
    return metrics, curves


def evaluate_grades(
    truth_csv: str | Path,
    pred_csv: str | Path,
    out_dir: str | Path | None = None,
    num_classes: int | None = None,
    *,
    metrics_file: bool = True,
) -> dict[str, Any]:
    """Grading metrics of a prediction table against a truth table.

    Args:
        truth_csv: CSV ``image,level``.
        pred_csv: CSV ``image,level[,prob_0..prob_{K-1}]``; probabilities must be in [0, 1] and sum to 1.
        out_dir: when given, write ``metrics.json``, ``confusion_matrix.png`` and (with probabilities)
            ``roc.png`` there.
        num_classes: the number of grades K; default: the number of probability columns, else the largest
            grade in either table + 1.
        metrics_file: with ``out_dir``, write ``metrics.json`` there too (``False``: the plots only, for a
            caller that writes one ``metrics.json`` of several tasks).

    Returns:
        ``num_images``, ``num_classes``, ``quadratic_weighted_kappa``, ``accuracy``, ``within_one_accuracy``,
        ``confusion_matrix`` ((K, K) nested lists, rows true); with probabilities also ``auc_per_class``
        (grade -> AUC), ``auc_mean`` (over the grades where AUC is defined), ``specificity`` (0.5), and
        for each binary task that K allows ``normal_auc``, ``normal_sensitivity_at_specificity``,
        ``referable_auc``, ``referable_sensitivity_at_specificity``. Undefined values (one class only) are NaN.

    Raises:
        FileNotFoundError: when a CSV does not exist.
        ValueError: naming the file (and row or ids) for bad tables, a truth image without prediction, no
            common image, or a grade outside 0..K-1.
        ImportError: when the metrics plugin is not installed.
    """
    compute_class_confusion_matrix = metric_function("compute_class_confusion_matrix")
    compute_quadratic_weighted_kappa = metric_function("compute_quadratic_weighted_kappa")
    compute_accuracy = metric_function("compute_accuracy")
    compute_within_one_grade_accuracy = metric_function("compute_within_one_grade_accuracy")
    compute_per_class_roc_auc = metric_function("compute_per_class_roc_auc")
    truth = read_grade_table(truth_csv, "truth")
    prediction = read_grade_table(pred_csv, "prediction")
    ids = matched_ids(truth.ids, prediction.ids, truth.path, prediction.path)
    truth_rows, prediction_rows = _rows_of(truth, ids), _rows_of(prediction, ids)
    grades_count = _number_of_grades(truth, prediction, num_classes)
    _check_grades(truth, truth_rows, grades_count)
    _check_grades(prediction, prediction_rows, grades_count)
    true_grades, predicted_grades = truth.grades[truth_rows], prediction.grades[prediction_rows]
    confusion = compute_class_confusion_matrix(predicted_grades, true_grades, grades_count)
    metrics: dict[str, Any] = {
        "num_images": len(ids),
        "num_classes": grades_count,
        "quadratic_weighted_kappa": compute_quadratic_weighted_kappa(predicted_grades, true_grades, grades_count),
        "accuracy": compute_accuracy(predicted_grades, true_grades),
        "within_one_accuracy": compute_within_one_grade_accuracy(predicted_grades, true_grades),
        "confusion_matrix": confusion.tolist(),
    }
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if prediction.probabilities is not None:
        probabilities = prediction.probabilities[prediction_rows]
        per_class = compute_per_class_roc_auc(probabilities, true_grades)
        metrics["auc_per_class"] = {str(grade): float(value) for grade, value in enumerate(per_class)}
        defined = per_class[~np.isnan(per_class)]
        metrics["auc_mean"] = float(defined.mean()) if defined.size else float("nan")
        metrics["specificity"] = SPECIFICITY
        task_metrics, curves = _binary_task_metrics(probabilities, true_grades)
        metrics.update(task_metrics)
    if out_dir is not None:
        folder = Path(out_dir)
        if metrics_file:
            write_metrics_json(metrics, folder)
        plot_confusion_matrix(confusion, [str(grade) for grade in range(grades_count)], folder / "confusion_matrix.png")
        if prediction.probabilities is not None:
            plot_roc_curves(curves, folder / "roc.png", title="ROC of the binary grading tasks")
    return metrics
