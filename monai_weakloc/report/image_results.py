"""Per-image results of a run: what was predicted, the truth, whether lesions were missed, how severe it looks.

The report sorts its gallery by these. Where the run was evaluated, the per-image results come from the same
definitions as the metrics in ``metrics.json``:

- ``boxes``: the image's recall for box at the evaluation's IoM threshold, with its top ``num_boxes`` boxes by
  score (the registered ``compute_iom_recall``); a truth box not hit is a missed lesion;
- ``pointing``: the positives the evaluation lists in ``missed_images`` (for multi-label predictions, per
  class: a missed (image, class) pair);
- ``masks``: the image's pixel recall at the evaluation's threshold (the registered ``pixel_pr``), the share
  of its lesion pixels the mask missed;
- ``grades``: the predicted grade or class against the truth's; ``labels``: the predicted labels (the
  ``labels`` column) against the truth's.

Without truth, only the predicted severity is known: the predicted grade and the probability of not being
class 0 (single-label), or the highest class probability (multi-label).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monai_weakloc.evaluation.map_files import map_files_by_id, read_mask, read_probability_map
from monai_weakloc.evaluation.metric_functions import metric_function
from monai_weakloc.evaluation.output_tables import MULTI_LABEL, PredictionTable, read_prediction_table
from monai_weakloc.evaluation.tables import read_box_table
from monai_weakloc.report.run_truth import RunTruth

__all__ = ["NO_FINDING", "ImageResult", "LesionMiss", "image_results"]

NO_FINDING = "No Finding"
"""The label of an image without any class, as the multi-label ``labels`` column writes it."""
LABEL_SEPARATOR = "|"
BOXES_FILE = "boxes.csv"
MASKS_FOLDER = "masks"


@dataclass(frozen=True)
class LesionMiss:
    """How much of an image's lesions one task missed.

    Attributes:
        task: ``boxes``, ``pointing`` or ``masks``.
        missed: the share missed, in [0, 1] (lesions, positive classes or lesion pixels).
        text: the same in words, for the caption.
    """

    task: str
    missed: float
    text: str


@dataclass(frozen=True)
class ImageResult:
    """One image of the run.

    Attributes:
        image: the image id.
        predicted: the predicted grade or class (``grade 2``, ``class 1``) or labels (``No Finding`` for none).
        truth: the same from the truth, ``None`` when unknown.
        severity: how severe the prediction looks (higher is more severe), see the module docstring.
        wrong: how far the prediction is from the truth: the grade difference, or the number of labels
            predicted wrongly (either way); ``None`` when the truth is unknown.
        misses: per localization task with truth for this image, what it missed.
    """

    image: str
    predicted: tuple[str, ...]
    truth: tuple[str, ...] | None
    severity: float
    wrong: int | None
    misses: tuple[LesionMiss, ...]

    @property
    def missed(self) -> float:
        """The largest share of lesions any task missed (0 when none was missed or nothing was scored)."""
        return max((miss.missed for miss in self.misses), default=0.0)


@dataclass(frozen=True)
class _Prediction:
    """One row of ``predictions.csv``."""

    names: tuple[str, ...]
    severity: float
    grade: int | None


def _number(cell: str | None, path: Path, row: int, column: str) -> float:
    """A numeric cell as a float; a ``ValueError`` naming file, row and column otherwise."""
    try:
        value = float(cell)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"{path}, row {row}: {column} {cell!r} is not a finite number")
    return value


def _class_name(label_column: str, grade: int) -> str:
    """``grade 2`` for graded datasets (column ``level``), ``class 2`` otherwise."""
    return f"{'grade' if label_column == 'level' else 'class'} {grade}"


def _labels_of(cell: str) -> tuple[str, ...]:
    """The labels of a ``labels`` cell, ``(NO_FINDING,)`` when there is none."""
    names = tuple(name.strip() for name in cell.split(LABEL_SEPARATOR) if name.strip() and name.strip() != NO_FINDING)
    return names or (NO_FINDING,)


def _read_predictions(table: PredictionTable) -> dict[str, _Prediction]:
    """Image id -> its prediction, in file order."""
    predictions: dict[str, _Prediction] = {}
    with table.path.open(newline="", encoding="utf-8-sig") as handle:
        for row, values in enumerate(csv.DictReader(handle), start=2):
            image = (values.get("image") or "").strip()
            if not image:
                raise ValueError(f"{table.path}, row {row}: image is empty")
            probabilities = [_number(values.get(name), table.path, row, name) for name in table.class_columns]
            if table.kind == MULTI_LABEL:
                names = _labels_of(values.get(table.label_column) or "")
                predictions[image] = _Prediction(names, max(probabilities, default=0.0), None)
                continue
            grade = int(_number(values.get(table.label_column), table.path, row, table.label_column))
            abnormal = 1.0 - probabilities[0] if probabilities else 0.0
            predictions[image] = _Prediction((_class_name(table.label_column, grade),), grade + abnormal, grade)
    return predictions


def _truth_classes(
    table: PredictionTable, truth: RunTruth, predictions: Mapping[str, _Prediction]
) -> dict[str, tuple[tuple[str, ...], int]]:
    """Image id -> (its true grade or labels, how far the prediction is from them)."""
    found: dict[str, tuple[tuple[str, ...], int]] = {}
    if truth.grades is not None:
        for image, grade in zip(truth.grades.ids, truth.grades.grades.tolist()):
            if image in predictions and predictions[image].grade is not None:
                error = abs(int(predictions[image].grade) - int(grade))
                found[image] = ((_class_name(table.label_column, int(grade)),), error)
    if truth.labels is not None:
        for image, row in zip(truth.labels.ids, truth.labels.values):
            if image in predictions:
                names = tuple(name for name, value in zip(truth.labels.label_names, row) if value == 1) or (NO_FINDING,)
                found[image] = (names, len(set(names) ^ set(predictions[image].names)))
    return found


def _section(metrics: Mapping[str, Any] | None, task: str) -> Mapping[str, Any] | None:
    """The section of a task that ran (``None`` when absent or skipped)."""
    if metrics is None or task not in metrics.get("tasks", []):
        return None
    section = metrics.get(task)
    return section if isinstance(section, Mapping) and "skipped" not in section else None


def _box_misses(outputs: Path, truth: RunTruth, section: Mapping[str, Any]) -> dict[str, LesionMiss]:
    """Per image with truth boxes, the boxes its top predicted boxes missed at the evaluation's IoM threshold."""
    if truth.boxes is None or not (outputs / BOXES_FILE).is_file():
        return {}
    compute_iom_recall = metric_function("compute_iom_recall")
    prediction = read_box_table(outputs / BOXES_FILE, "prediction")
    threshold, num_boxes = float(section["iom_threshold"]), section.get("num_boxes")
    misses = {}
    for image, truth_boxes in truth.boxes.boxes.items():
        boxes = prediction.boxes.get(image, np.zeros((0, 4)))
        if num_boxes is not None and prediction.scores is not None and image in prediction.scores:
            boxes = boxes[np.argsort(-prediction.scores[image], kind="stable")[: int(num_boxes)]]
        box_recall, _ = compute_iom_recall([boxes], [truth_boxes], threshold)
        lesions = truth_boxes.shape[0]
        missed = lesions - round(box_recall * lesions)
        text = f"boxes: {missed} of {lesions} lesion(s) missed at IoM {threshold:g}"
        misses[image] = LesionMiss("boxes", missed / lesions, text)
    return misses


def _pointing_misses(section: Mapping[str, Any]) -> dict[str, LesionMiss]:
    """Per positive image, whether its point missed its lesions (per class for multi-label predictions)."""
    classes = section.get("classes", {None: section})
    positive: dict[str, list[str]] = {}
    missed: dict[str, list[str]] = {}
    for class_name, values in classes.items():
        for image in [*values.get("points", {}), *values.get("positives_without_point", [])]:
            positive.setdefault(image, []).append(class_name)
        for image in values.get("missed_images", []):
            missed.setdefault(image, []).append(class_name)
    misses = {}
    for image, names in positive.items():
        wrong = missed.get(image, [])
        if "classes" in section:
            text = f"pointing: missed {', '.join(wrong)}" if wrong else f"pointing: hit {', '.join(names)}"
        else:
            text = "pointing: missed the lesions" if wrong else "pointing: hit a lesion"
        misses[image] = LesionMiss("pointing", len(wrong) / len(names), text)
    return misses


def _mask_misses(outputs: Path, truth: RunTruth, section: Mapping[str, Any]) -> dict[str, LesionMiss]:
    """Per image with lesion pixels, the share of them its predicted mask missed at the evaluation's threshold."""
    if truth.masks is None or truth.mask_label is None or not (outputs / MASKS_FOLDER).is_dir():
        return {}
    pixel_pr = metric_function("pixel_pr")
    threshold = float(section["threshold"])
    suffix = f"_{truth.mask_label}"
    predicted = {
        name.removesuffix(suffix): path
        for name, path in map_files_by_id(outputs / MASKS_FOLDER, "predicted mask").items()
        if name.endswith(suffix)
    }
    misses = {}
    for image, truth_file in truth.masks.items():
        mask = read_mask(truth_file)
        if image not in predicted or not mask.any():
            continue
        metric = pixel_pr(threshold=threshold, pooling="all")
        metric(
            y_pred=torch.from_numpy(read_probability_map(predicted[image]))[None, None],
            y=torch.from_numpy(mask.astype(np.float32))[None, None],
        )
        missed = 1.0 - float(metric.aggregate_result().recall)
        text = f"masks: {100 * missed:.0f}% of the {truth.mask_label} pixels missed at {threshold:g}"
        misses[image] = LesionMiss("masks", missed, text)
    return misses


def image_results(outputs: Path, metrics: Mapping[str, Any] | None, truth: RunTruth) -> list[ImageResult]:
    """The result of every image of ``outputs/predictions.csv``.

    Args:
        outputs: the output folder of the contract.
        metrics: its ``metrics.json``, ``None`` when the run was not evaluated.
        truth: the truth the evaluation scored against (empty without truth).

    Returns:
        one result per predicted image, in the order of ``predictions.csv``.

    Raises:
        FileNotFoundError: when ``predictions.csv`` does not exist.
        ValueError: naming the file and row, for a bad table.
    """
    table = read_prediction_table(outputs / "predictions.csv")
    predictions = _read_predictions(table)
    truths = _truth_classes(table, truth, predictions)
    per_task: list[dict[str, LesionMiss]] = []
    boxes, pointing, masks = (_section(metrics, task) for task in ("boxes", "pointing", "masks"))
    if boxes is not None:
        per_task.append(_box_misses(outputs, truth, boxes))
    if pointing is not None:
        per_task.append(_pointing_misses(pointing))
    if masks is not None:
        per_task.append(_mask_misses(outputs, truth, masks))
    results = []
    for image, prediction in predictions.items():
        known = truths.get(image)
        results.append(
            ImageResult(
                image=image,
                predicted=prediction.names,
                truth=None if known is None else known[0],
                severity=prediction.severity,
                wrong=None if known is None else known[1],
                misses=tuple(misses[image] for misses in per_task if image in misses),
            )
        )
    return results
