"""Evaluate a folder of the output contract by task: one call, one ``metrics.json`` with a section per task.

The folder holds what a bundle's inference (or another toolkit) wrote by ``docs/outputs.md``:
``predictions.csv``, ``heatmaps/``, ``boxes.csv``, ``points.csv``, ``masks/``. The truth comes as an
:class:`~monai_weakloc.evaluation.truth.EvaluationTruth` (from a dataset layout with
:func:`~monai_weakloc.evaluation.dataset_truth.dataset_truth`, or built by hand). The tasks
(:data:`EVALUATION_TASKS`) and what each scores:

- ``grades``: single-label predictions against image grades or classes (kappa, accuracy, confusion matrix,
  AUCs) beside the baselines that know nothing (the majority class's accuracy, AUC 0.5);
- ``labels``: multi-label predictions, ROC AUC per class and their mean, beside AUC 0.5;
- ``boxes``: ``boxes.csv`` against the lesion boxes: IoM recall with the random-box baseline, IoU/IoBB accuracy
  with average false positives, MaxBoxAcc of the heatmaps;
- ``pointing``: STL localization AP and pointing accuracy of the heatmaps' maxima (or of ``points.csv``, where
  the folder has no heatmap), beside the image-centre and most-frequent-lesion-position baselines; for
  multi-label predictions once per class with lesion boxes, and ``pooled`` over every (image, label) pair with a
  box (total hits over total pairs, the method and each baseline alike);
- ``masks``: ``masks/<image>_<label>`` probabilities against the truth masks: pixel PR pooled and per image
  beside the no-skill level, lesion FROC at both sets of operating points.

The plots of every task go to the same folder as ``metrics.json``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monai_weakloc.data.readers.files import absolute_root
from monai_weakloc.evaluation.boxes import evaluate_boxes
from monai_weakloc.evaluation.grades import evaluate_grades
from monai_weakloc.evaluation.labels import evaluate_labels
from monai_weakloc.evaluation.map_ablation import evaluate_map_ablation
from monai_weakloc.evaluation.map_files import map_files_by_id
from monai_weakloc.evaluation.masks import evaluate_masks
from monai_weakloc.evaluation.output_tables import (
    MULTI_LABEL,
    PredictionTable,
    errors_name_file,
    grade_table,
    read_prediction_table,
    score_table,
)
from monai_weakloc.evaluation.pointing import POINTING_BASELINES, evaluate_pointing
from monai_weakloc.evaluation.results import write_metrics_json
from monai_weakloc.evaluation.tables import image_id, read_box_table, read_grade_table, read_label_truth
from monai_weakloc.evaluation.truth import EvaluationTruth
from monai_weakloc.terminal import terminal_progress
from monai_weakloc.transforms.load_2d import file_suffix

__all__ = ["EVALUATION_TASKS", "MissingTruthError", "evaluate_outputs"]

logger = logging.getLogger(__name__)

EVALUATION_TASKS: tuple[str, ...] = ("grades", "labels", "boxes", "pointing", "masks")
"""The tasks :func:`evaluate_outputs` runs, in the order their sections appear in ``metrics.json``."""
MISSING_TRUTH_ACTIONS: tuple[str, ...] = ("raise", "skip")
NO_SKILL_AUC = 0.5
PREDICTIONS_FILE = "predictions.csv"
BOXES_FILE = "boxes.csv"
POINTS_FILE = "points.csv"
HEATMAPS_FOLDER = "heatmaps"
MASKS_FOLDER = "masks"


def _required(path: Path, task: str) -> Path:
    """``path`` when it exists; else a ``FileNotFoundError`` naming the task that needs it and the contract."""
    if not path.exists():
        raise FileNotFoundError(f"task {task!r} needs {path} (see docs/outputs.md), which the outputs do not hold")
    return path


class MissingTruthError(ValueError):
    """A task has no truth to score against (a field of :class:`EvaluationTruth` is ``None``)."""


def _truth_of(value: Any, task: str, field: str) -> Any:
    """A field of the truth; a :class:`MissingTruthError` naming the task and the field when it is missing."""
    if value is None:
        raise MissingTruthError(f"task {task!r} has no truth to score against: EvaluationTruth.{field} is not given")
    return value


def _grades_section(
    predictions: PredictionTable, truth: EvaluationTruth, out_dir: Path, work_dir: Path, num_classes: int | None
) -> dict[str, Any]:
    """The ``grades`` task and its baselines: the majority class's accuracy and a no-skill AUC of 0.5."""
    truth_csv = _truth_of(truth.grades_csv, "grades", "grades_csv")
    table = grade_table(predictions, work_dir)
    with errors_name_file(table, predictions.path):
        metrics = evaluate_grades(truth_csv, table, out_dir, num_classes, metrics_file=False)
    grades = read_grade_table(truth_csv, "truth").grades
    counts = np.bincount(grades.astype(np.int64))
    metrics["baselines"] = {
        "majority_class": int(np.argmax(counts)),
        "majority_class_accuracy": float(counts.max() / counts.sum()),
        "quadratic_weighted_kappa": 0.0,
        "auc": NO_SKILL_AUC,
    }
    return metrics


def _labels_section(
    predictions: PredictionTable, truth: EvaluationTruth, out_dir: Path, work_dir: Path
) -> dict[str, Any]:
    """The ``labels`` task beside a no-skill AUC of 0.5."""
    truth_csv = _truth_of(truth.labels_csv, "labels", "labels_csv")
    table = score_table(predictions, work_dir)
    with errors_name_file(table, predictions.path):
        metrics = evaluate_labels(truth_csv, table, out_dir, metrics_file=False)
    metrics["baselines"] = {"auc": NO_SKILL_AUC}
    return metrics


def _heatmaps_folder(output_dir: Path) -> Path | None:
    """The outputs' heatmap folder when it holds a map, else ``None``."""
    folder = output_dir / HEATMAPS_FOLDER
    return folder if folder.is_dir() and map_files_by_id(folder, "heatmap") else None


def _boxes_section(
    output_dir: Path,
    truth: EvaluationTruth,
    out_dir: Path,
    num_boxes: int | None,
    iom_threshold: float,
    random_seed: int,
    random_draws: int,
) -> dict[str, Any]:
    """The ``boxes`` task (the random-box baseline needs ``truth.image_sizes``)."""
    truth_csv = _truth_of(truth.lesion_boxes_csv, "boxes", "lesion_boxes_csv")
    if truth.image_sizes is None:
        logger.warning("boxes: no image sizes in the truth, so no random-box baseline")
    return evaluate_boxes(
        truth_csv,
        _required(output_dir / BOXES_FILE, "boxes"),
        out_dir,
        heatmaps_dir=_heatmaps_folder(output_dir),
        num_boxes=num_boxes,
        iom_threshold=iom_threshold,
        image_sizes=truth.image_sizes,
        random_seed=random_seed,
        random_draws=random_draws,
        metrics_file=False,
    )


def _point_sources(output_dir: Path) -> dict[str, Path]:
    """``heatmaps_dir`` (the maps' maxima) when the outputs have heatmaps, else ``points_csv``."""
    heatmaps = _heatmaps_folder(output_dir)
    if heatmaps is not None:
        return {"heatmaps_dir": heatmaps}
    return {"points_csv": _required(output_dir / POINTS_FILE, "pointing")}


def _class_negatives(truth: EvaluationTruth, class_names: Sequence[str], class_name: str) -> list[str]:
    """The evaluated images whose label truth says ``class_name`` is absent (all of them without label truth)."""
    if truth.labels_csv is None:
        return list(truth.image_ids or [])
    table = read_label_truth(truth.labels_csv, class_names)
    column = list(class_names).index(class_name)
    wanted = None if truth.image_ids is None else set(truth.image_ids)
    return [
        identifier
        for identifier, row in zip(table.ids, table.values)
        if row[column] == 0 and (wanted is None or identifier in wanted)
    ]


def _pointing_section(
    output_dir: Path, predictions: PredictionTable, truth: EvaluationTruth, out_dir: Path, tolerance: float
) -> dict[str, Any]:
    """The ``pointing`` task: the positive class, or each class with lesion boxes of multi-label predictions."""
    truth_csv = _truth_of(truth.lesion_boxes_csv, "pointing", "lesion_boxes_csv")
    position = None if truth.lesion_position is None else truth.lesion_position.fractions
    options: dict[str, Any] = {
        "tolerance": tolerance,
        "image_sizes": truth.image_sizes,
        "lesion_position": position,
        **_point_sources(output_dir),
    }
    if predictions.kind != MULTI_LABEL:
        return evaluate_pointing(
            truth_csv, predictions.path, out_dir=out_dir, image_ids=truth.image_ids, metrics_file=False, **options
        )
    boxes = read_box_table(truth_csv, "truth")
    with_boxes = [name for name in predictions.class_columns if any(name in labels for labels in boxes.labels.values())]
    if not with_boxes:
        raise ValueError(
            f"{truth_csv}: no lesion box has a label of {predictions.path} ({', '.join(predictions.class_columns)})"
        )
    per_class = {}
    for class_name in with_boxes:
        positives = [identifier for identifier, labels in boxes.labels.items() if class_name in labels]
        negatives = [
            identifier
            for identifier in _class_negatives(truth, predictions.class_columns, class_name)
            if identifier not in positives
        ]
        class_dir = out_dir / "pointing" / class_name
        per_class[class_name] = evaluate_pointing(
            truth_csv,
            predictions.path,
            out_dir=class_dir,
            class_name=class_name,
            image_ids=positives + negatives,
            metrics_file=False,
            **options,
        )
    return {
        "classes": per_class,
        "mean_pointing_accuracy": float(np.mean([values["pointing_accuracy"] for values in per_class.values()])),
        "mean_localization_ap": float(np.nanmean([values["localization_ap"] for values in per_class.values()])),
        "pooled": _pooled_pointing(per_class),
    }


def _pooled_pointing(per_class: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Pointing accuracy over every (image, label) pair with a box: total hits over total pairs, for the method
    and each baseline (``{"missing": ...}`` where a class lacks that baseline)."""
    pairs = sum(values["num_positive_images"] for values in per_class.values())
    pooled: dict[str, Any] = {
        "num_pairs": pairs,
        "num_correct_points": sum(values["num_correct_points"] for values in per_class.values()),
    }
    pooled["pointing_accuracy"] = pooled["num_correct_points"] / pairs if pairs else float("nan")
    baselines: dict[str, Any] = {}
    for name in POINTING_BASELINES:
        sections = [values["baselines"].get(name, {}) for values in per_class.values()]
        missing = [section["missing"] for section in sections if "num_correct_points" not in section]
        if missing:
            baselines[name] = {"missing": missing[0]}
            continue
        hits = sum(section["num_correct_points"] for section in sections)
        baselines[name] = {"num_correct_points": hits, "pointing_accuracy": hits / pairs if pairs else float("nan")}
    pooled["baselines"] = baselines
    return pooled


def _label_masks(masks_dir: Path, image_ids: Sequence[str] | None, mask_label: str, work_dir: Path) -> Path:
    """A folder of links to the outputs' ``<image>_<mask_label>`` maps (the most precise format of each)."""
    files = map_files_by_id(masks_dir, "predicted mask")
    suffix = f"_{mask_label}"
    wanted = None if image_ids is None else {f"{identifier}{suffix}" for identifier in image_ids}
    chosen = {
        name: path for name, path in files.items() if name.endswith(suffix) and (wanted is None or name in wanted)
    }
    if not chosen:
        raise ValueError(f"{masks_dir}: no predicted mask <image>{suffix}.* of an evaluated image")
    folder = work_dir / "predicted_masks"
    folder.mkdir(parents=True)
    for name, path in chosen.items():
        (folder / f"{name}{file_suffix(path)}").symlink_to(path)
    return folder


def _masks_section(
    output_dir: Path,
    truth: EvaluationTruth,
    out_dir: Path,
    work_dir: Path,
    mask_label: str,
    mask_threshold: float,
    pooling: str,
    froc_thresholds: str | Sequence[float],
    detection_threshold: float,
    ablation_maps: Sequence[str],
) -> dict[str, Any]:
    """The ``masks`` task, on the outputs' maps of ``mask_label`` (and the heatmaps of ``ablation_maps``)."""
    truth_dir = _truth_of(truth.masks_dir, "masks", "masks_dir")
    predicted = _label_masks(_required(output_dir / MASKS_FOLDER, "masks"), truth.image_ids, mask_label, work_dir)
    metrics = evaluate_masks(
        truth_dir,
        predicted,
        out_dir,
        threshold=mask_threshold,
        pooling=pooling,
        eval_thresholds=froc_thresholds,
        detection_threshold=detection_threshold,
        metrics_file=False,
    )
    metrics["mask_label"] = mask_label
    if ablation_maps:
        metrics["ablation"] = evaluate_map_ablation(
            _required(output_dir / HEATMAPS_FOLDER, "masks"),
            truth_dir,
            [image_id(path.name).removesuffix(f"_{mask_label}") for path in sorted(predicted.iterdir())],
            ablation_maps,
            out_dir,
            mask_label=mask_label,
            threshold=mask_threshold,
            pooling=pooling,
        )
    return metrics


def evaluate_outputs(
    output_dir: str | Path,
    truth: EvaluationTruth,
    tasks: Sequence[str],
    *,
    out_dir: str | Path | None = None,
    num_classes: int | None = None,
    num_boxes: int | None = None,
    iom_threshold: float = 0.3,
    random_seed: int = 0,
    random_draws: int = 100,
    tolerance: float = 16.0,
    mask_label: str = "MA",
    mask_threshold: float = 0.5,
    pooling: str = "all",
    froc_thresholds: str | Sequence[float] = "roc",
    detection_threshold: float = 0.5,
    ablation_maps: Sequence[str] = (),
    missing_truth: str = "raise",
) -> dict[str, Any]:
    """Run the evaluation ``tasks`` on a folder of the output contract and write one ``metrics.json``.

    Args:
        output_dir: the folder the inference wrote (``predictions.csv``, ``heatmaps/``, ``boxes.csv``,
            ``points.csv``, ``masks/``).
        truth: what the tasks score against; a task whose truth field is ``None`` is a ``ValueError``.
        tasks: some of :data:`EVALUATION_TASKS`.
        out_dir: where ``metrics.json`` and the plots go; default ``output_dir``.
        num_classes: the number of grades K (``grades``); default from the tables.
        num_boxes: the top boxes per image by score that count (``boxes``); ``None``: all.
        iom_threshold: the IoM threshold of the headline recalls (``boxes``).
        random_seed: seed of the random-box baseline; draw ``k`` uses ``random_seed + k``.
        random_draws: random-box draws the baseline is averaged over.
        tolerance: pixels the truth boxes are enlarged by (``pointing``).
        mask_label: the lesion of ``masks/<image>_<label>`` that is scored (``masks``).
        mask_threshold: probability at and above which a pixel is lesion, for F1/precision/recall (``masks``).
        pooling: ``all`` or ``mean``, the pooling of the headline pixel PR (both are reported).
        froc_thresholds: the FROC operating points of the headline score: ``roc``, ``camelyon16`` or a list.
        detection_threshold: map pixels at and above it form FROC detections.
        ablation_maps: heatmap names (``heatmaps/<image>_<map>``) the ``masks`` task also scores one by one,
            the method's ablation table (:func:`~monai_weakloc.evaluation.map_ablation.evaluate_map_ablation`).
        missing_truth: ``raise``: a task whose truth is missing is an error; ``skip``: it is logged and its
            section says ``{"skipped": <why>}`` (a dataset without lesion boxes still gets its grades scored).

    Returns:
        ``{"tasks": [...], <task>: <its metrics>, ...}`` as written to ``metrics.json``; see
        :func:`~monai_weakloc.evaluation.evaluate_grades`, :func:`~monai_weakloc.evaluation.evaluate_labels`,
        :func:`~monai_weakloc.evaluation.evaluate_boxes`, :func:`~monai_weakloc.evaluation.evaluate_pointing`
        (multi-label: ``classes`` with one result per class, and their means) and
        :func:`~monai_weakloc.evaluation.evaluate_masks` (with ``mask_label`` and, given ``ablation_maps``,
        ``ablation``: map -> its figures). ``grades`` and ``labels`` add
        ``baselines``.

    Raises:
        FileNotFoundError: when ``output_dir`` or a file a task needs does not exist.
        ValueError: for an unknown or repeated task, a task without its truth, predictions of the wrong kind
            for the task (naming the file), and every error of the task's evaluation (naming file and row).
    """
    if missing_truth not in MISSING_TRUTH_ACTIONS:
        raise ValueError(f"missing_truth must be one of {MISSING_TRUTH_ACTIONS}, got {missing_truth!r}")
    unknown = [task for task in tasks if task not in EVALUATION_TASKS]
    if unknown or not tasks or len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks must be distinct names of {', '.join(EVALUATION_TASKS)}; got {list(tasks)}")
    outputs = absolute_root(output_dir)
    if not outputs.is_dir():
        raise FileNotFoundError(f"output folder not found: {outputs}")
    folder = outputs if out_dir is None else absolute_root(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    predictions = read_prediction_table(outputs / PREDICTIONS_FILE)
    metrics: dict[str, Any] = {"tasks": [task for task in EVALUATION_TASKS if task in tasks]}
    with tempfile.TemporaryDirectory(prefix="weakloc_evaluate_") as scratch:
        work_dir = Path(scratch)
        sections = {
            "grades": lambda: _grades_section(predictions, truth, folder, work_dir, num_classes),
            "labels": lambda: _labels_section(predictions, truth, folder, work_dir),
            "boxes": lambda: _boxes_section(
                outputs, truth, folder, num_boxes, iom_threshold, random_seed, random_draws
            ),
            "pointing": lambda: _pointing_section(outputs, predictions, truth, folder, tolerance),
            "masks": lambda: _masks_section(
                outputs,
                truth,
                folder,
                work_dir,
                mask_label,
                mask_threshold,
                pooling,
                froc_thresholds,
                detection_threshold,
                ablation_maps,
            ),
        }
        for task in terminal_progress(metrics["tasks"], "evaluation"):
            logger.info("evaluating %s of %s", task, outputs)
            try:
                metrics[task] = sections[task]()
            except MissingTruthError as error:
                if missing_truth == "raise":
                    raise
                logger.warning("%s: skipped", error)
                metrics[task] = {"skipped": str(error)}
    write_metrics_json(metrics, folder)
    return metrics
