"""Evaluation of predictions saved as files: grades, lesion boxes and heatmaps, segmentation maps, multi-label scores,
and where positive-class heatmaps point (STL localization AP); by task, on a folder of the output contract
(:func:`evaluate_outputs`).

Each ``evaluate_*`` function reads truth and predictions, computes the metrics with the functions of the
``weakloc_metrics`` plugin, returns them as a dict and, given ``out_dir``, writes ``metrics.json`` and plots.
"""

from __future__ import annotations

from monai_weakloc.evaluation.boxes import evaluate_boxes, random_boxes_like
from monai_weakloc.evaluation.dataset_truth import dataset_truth, records_truth
from monai_weakloc.evaluation.grades import evaluate_grades
from monai_weakloc.evaluation.headlines import headline_figures
from monai_weakloc.evaluation.labels import evaluate_labels
from monai_weakloc.evaluation.map_files import read_image_sizes
from monai_weakloc.evaluation.masks import evaluate_masks
from monai_weakloc.evaluation.outputs import EVALUATION_TASKS, evaluate_outputs
from monai_weakloc.evaluation.pointing import evaluate_pointing
from monai_weakloc.evaluation.results import write_metrics_json
from monai_weakloc.evaluation.tables import image_id
from monai_weakloc.evaluation.truth import EvaluationTruth

__all__ = [
    "EVALUATION_TASKS",
    "EvaluationTruth",
    "dataset_truth",
    "evaluate_outputs",
    "headline_figures",
    "records_truth",
    "evaluate_boxes",
    "evaluate_grades",
    "evaluate_labels",
    "evaluate_masks",
    "evaluate_pointing",
    "image_id",
    "random_boxes_like",
    "read_image_sizes",
    "write_metrics_json",
]
