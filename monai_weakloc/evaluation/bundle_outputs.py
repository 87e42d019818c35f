"""Evaluate what a bundle's inference wrote (``predictions.csv``, ``boxes.csv``, ``heatmaps/``).

A bundle's ``evaluate.json`` calls :func:`evaluate_bundle_outputs` with the records of the split it
inferred on: the truth tables are cut to those images, written beside the outputs, and scored with
:func:`~monai_weakloc.evaluation.evaluate_grades` and :func:`~monai_weakloc.evaluation.evaluate_boxes`.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from monai_weakloc.evaluation.boxes import evaluate_boxes
from monai_weakloc.evaluation.grades import evaluate_grades
from monai_weakloc.evaluation.results import write_metrics_json

__all__ = ["evaluate_bundle_outputs"]

logger = logging.getLogger(__name__)


def _write_grade_truth(records: Sequence[dict], path: Path) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "level"])
        writer.writerows([record["id"], int(record["label"])] for record in records)
    return path


def _write_box_truth(lesion_boxes_csv: Path, ids: set[str], path: Path) -> int:
    """Copy the rows of ``lesion_boxes_csv`` whose image is in ``ids``; returns the number of rows."""
    with open(lesion_boxes_csv, newline="") as source, open(path, "w", newline="") as target:
        reader = csv.DictReader(source)
        if reader.fieldnames is None or "image" not in reader.fieldnames:
            raise ValueError(f"{lesion_boxes_csv}: no 'image' column")
        writer = csv.DictWriter(target, fieldnames=reader.fieldnames)
        writer.writeheader()
        rows = [row for row in reader if Path(row["image"]).stem in ids]
        writer.writerows(rows)
    return len(rows)


def evaluate_bundle_outputs(
    output_dir: str | Path,
    records: Sequence[dict],
    lesion_boxes_csv: str | Path | None = None,
    num_classes: int | None = None,
    num_boxes: int | None = None,
    iom_threshold: float = 0.3,
    seed: int = 0,
    random_draws: int = 100,
) -> dict[str, Any]:
    """Score the inference outputs in ``output_dir`` on the images of ``records``.

    Args:
        output_dir: the folder with ``predictions.csv`` (``image,level,prob_*``), ``boxes.csv`` and
            ``heatmaps/``; ``metrics.json``, ``confusion_matrix.png``, ``roc.png`` and ``iom_recall.png`` are
            written there, the truth tables under ``truth/``.
        records: the evaluated images (``id``, ``label``, ``image``).
        lesion_boxes_csv: lesion-box CSV ``image,label,x,y,w,h`` of the dataset; ``None`` skips localization.
        num_classes: number of grades K.
        num_boxes: top boxes per image to evaluate (``None``: all).
        iom_threshold: the IoM threshold of the headline recalls.
        seed: seed of the random-box baseline.
        random_draws: number of random-box draws the baseline is averaged over.

    Returns:
        ``{"grading": ..., "localization": ...}`` as written to ``metrics.json``.
    """
    output_dir = Path(output_dir)
    truth_dir = output_dir / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    grading = evaluate_grades(
        _write_grade_truth(records, truth_dir / "grades.csv"), output_dir / "predictions.csv", output_dir, num_classes
    )
    metrics: dict[str, Any] = {"grading": grading}
    if lesion_boxes_csv is not None and Path(lesion_boxes_csv).is_file():
        ids = {record["id"] for record in records}
        truth_boxes = truth_dir / "lesion_boxes.csv"
        if _write_box_truth(Path(lesion_boxes_csv), ids, truth_boxes):
            sizes = {}
            for record in records:
                with Image.open(record["image"]) as image:
                    sizes[record["id"]] = (image.height, image.width)
            metrics["localization"] = evaluate_boxes(
                truth_boxes, output_dir / "boxes.csv", output_dir, heatmaps_dir=output_dir / "heatmaps",
                num_boxes=num_boxes, iom_threshold=iom_threshold, image_sizes=sizes, random_seed=seed,
                random_draws=random_draws,
            )
        else:
            logger.warning("no lesion box of %s is on an evaluated image: localization not scored", lesion_boxes_csv)
    else:
        logger.warning("no lesion-box table (%s): localization not scored", lesion_boxes_csv)
    write_metrics_json(metrics, output_dir)
    return metrics
