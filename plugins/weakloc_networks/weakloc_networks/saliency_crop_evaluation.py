"""Evaluation of the saliency-crop method's outputs: the tasks ``grades`` (two classes) and ``boxes`` (the crops of
the unhealthy images), and the figures of the paper's tables.

- ``grades``: :func:`~monai_weakloc.evaluation.evaluate_outputs` on all evaluated images, two classes;
- ``boxes``: the same on the unhealthy images only (healthy images have no lesion the crop could hold), with the
  crop boxes of ``boxes.csv`` against the lesion boxes; its ``person_recall`` at IoM 1.0 is the share of unhealthy
  images whose crop holds a whole lesion, its ``random_baseline`` the same for random crops of the same size;
- ``crop_lesion_share``: those two shares and their difference, the figure the paper could only judge by eye
  (absent for a model without a crop, whose outputs have no ``boxes.csv``: the plain network);
- ``per_class_accuracy`` (healthy, unhealthy: the paper's table 2) and ``grade_confusion``, the decision against
  the true grade (2 x 5, the paper's table 4).
"""

from __future__ import annotations

import csv
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monai_weakloc.evaluation import evaluate_outputs, records_truth
from monai_weakloc.evaluation.results import write_metrics_json
from weakloc_networks.saliency_crop_pipeline import UNHEALTHY_CLASS

__all__ = ["CROPS_SUBFOLDER", "evaluate_saliency_crops", "grade_confusion"]

logger = logging.getLogger(__name__)

CROPS_SUBFOLDER = "unhealthy_crops"
"""Where the ``boxes`` task's plots of the unhealthy images go, under the output folder."""
NUM_GRADES = 5


def _decisions(predictions_csv: Path) -> dict[str, int]:
    """Image id -> the predicted class (the ``level`` column) of a two-class ``predictions.csv``."""
    with open(predictions_csv, newline="") as stream:
        return {row["image"]: int(row["level"]) for row in csv.DictReader(stream)}


def grade_confusion(decisions: Mapping[str, int], records: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Counts of the decided class (rows: healthy, unhealthy) against the true grade (columns 0..4).

    Args:
        decisions: image id -> decided class (0 or 1).
        records: the evaluated images' records with ``id`` and ``grade``.

    Returns:
        (2, 5) int counts.

    Raises:
        ValueError: naming the image, when a record has no decision.
    """
    counts = np.zeros((2, NUM_GRADES), dtype=int)
    for record in records:
        if record["id"] not in decisions:
            raise ValueError(f"grade_confusion: no prediction for image {record['id']!r}")
        counts[decisions[record["id"]], int(record["grade"])] += 1
    return counts


def evaluate_saliency_crops(
    output_dir: str | Path,
    records: Sequence[Mapping[str, Any]],
    lesion_boxes_csv: str | Path | None = None,
    class_names: Sequence[str] = ("healthy", "unhealthy"),
    iom_threshold: float = 1.0,
    random_seed: int = 0,
    random_draws: int = 100,
) -> dict[str, Any]:
    """Score the inference outputs in ``output_dir`` and write its ``metrics.json`` (and plots).

    Args:
        output_dir: the inference's folder (``predictions.csv``, ``boxes.csv``, ``heatmaps/``).
        records: the evaluated images: two-class records with ``id``, ``image``, ``label`` and ``grade``.
        lesion_boxes_csv: the lesion boxes ``image,label,x,y,w,h``; ``None``: the ``boxes`` task is skipped (as it
            is for outputs without ``boxes.csv``, a model without a crop such as the plain network; then
            ``crop_lesion_share`` is absent).
        class_names: the two class names.
        iom_threshold: the IoM at which a lesion counts as inside the crop (1.0: wholly inside).
        random_seed: seed of the random crops.
        random_draws: random crops per image the baseline averages over.

    Returns:
        the metrics written: ``tasks``, ``grades``, ``boxes``, ``crop_lesion_share`` (``num_images``,
        ``iom_threshold``, ``share``, ``random_share``, ``margin``), ``per_class_accuracy`` and ``grade_confusion``
        (``rows``, ``columns``, ``counts``).
    """
    folder = Path(output_dir)
    unhealthy = [record for record in records if int(record["label"]) == UNHEALTHY_CLASS]
    with tempfile.TemporaryDirectory(prefix="saliency_crop_truth_") as scratch:
        metrics = evaluate_outputs(folder, records_truth(records, Path(scratch) / "all"), ["grades"], num_classes=2)
        if not (folder / "boxes.csv").is_file():
            logger.info("saliency crops: the outputs have no boxes.csv (a model without a crop), boxes task skipped")
            metrics["boxes"] = {"skipped": "no crop: the outputs have no boxes.csv"}
        elif lesion_boxes_csv is None or not unhealthy:
            logger.warning("saliency crops: no lesion boxes or no unhealthy image, the boxes task is skipped")
            metrics["boxes"] = {"skipped": "no lesion boxes or no unhealthy image"}
        else:
            truth = records_truth(unhealthy, Path(scratch) / "unhealthy", lesion_boxes_csv=lesion_boxes_csv)
            metrics["boxes"] = evaluate_outputs(
                folder,
                truth,
                ["boxes"],
                out_dir=folder / CROPS_SUBFOLDER,
                iom_threshold=iom_threshold,
                random_seed=random_seed,
                random_draws=random_draws,
            )["boxes"]
            share, random_share = (
                metrics["boxes"]["person_recall"],
                metrics["boxes"]["random_baseline"]["person_recall"],
            )
            metrics["crop_lesion_share"] = {
                "num_images": metrics["boxes"]["num_images"],
                "iom_threshold": iom_threshold,
                "share": share,
                "random_share": random_share,
                "margin": share - random_share,
            }
    metrics["tasks"] = ["grades", "boxes"]
    counts = grade_confusion(_decisions(folder / "predictions.csv"), records)
    healthy_grades = sorted({int(r["grade"]) for r in records if int(r["label"]) != UNHEALTHY_CLASS})
    unhealthy_grades = sorted({int(r["grade"]) for r in unhealthy})
    per_class = {}
    for decided, (name, grades) in enumerate(zip(class_names, (healthy_grades, unhealthy_grades))):
        total = counts[:, grades].sum()
        per_class[name] = float(counts[decided, grades].sum() / total) if total else float("nan")
    metrics["per_class_accuracy"] = per_class
    metrics["grade_confusion"] = {
        "rows": list(class_names),
        "columns": list(range(NUM_GRADES)),
        "counts": counts.tolist(),
    }
    write_metrics_json(metrics, folder)
    return metrics
