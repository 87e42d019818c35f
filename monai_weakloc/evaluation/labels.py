"""Evaluate multi-label predictions (ChestX-ray14 findings and the like): per-label and mean ROC AUC.

Predictions are a wide table ``image,<label1>,<label2>,...`` of scores; the truth is either the
ChestX-ray14 entry list (``Image Index,Finding Labels``, findings ``|``-separated) or a wide 0/1 table
with the same label columns (see :func:`monai_weakloc.evaluation.tables.read_label_truth`). Every truth
image needs a prediction; predictions without truth are ignored with a warning. AUCs come from the
``weakloc_metrics`` plugin (MONAI's ``compute_roc_auc``); a label whose truth holds one value only gets
NaN and is left out of the mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_curve

from monai_weakloc.evaluation.metric_functions import metric_function
from monai_weakloc.evaluation.results import write_metrics_json
from monai_weakloc.evaluation.tables import LabelTable, matched_ids, read_label_scores, read_label_truth
from monai_weakloc.report.plots import plot_roc_curves

__all__ = ["evaluate_labels"]


def _values_of(table: LabelTable, ids: list[str]) -> np.ndarray:
    """(N, L) values of ``ids`` in ``table``."""
    position = {identifier: index for index, identifier in enumerate(table.ids)}
    return table.values[[position[identifier] for identifier in ids]]


def evaluate_labels(
    truth_csv: str | Path, pred_csv: str | Path, out_dir: str | Path | None = None, *, metrics_file: bool = True
) -> dict[str, Any]:
    """Per-label and mean ROC AUC of multi-label scores.

    Args:
        truth_csv: ChestX-ray14-style ``Image Index,Finding Labels`` or wide ``image,<label1>,...`` 0/1 CSV.
        pred_csv: wide ``image,<label1>,...`` CSV of scores (probabilities).
        out_dir: when given, write ``metrics.json`` and ``roc.png`` (one curve per label) there.
        metrics_file: with ``out_dir``, write ``metrics.json`` there too (``False``: the plots only, for a
            caller that writes one ``metrics.json`` of several tasks).

    Returns:
        ``num_images``, ``labels`` (the prediction columns), ``auc_per_label`` (label -> AUC, NaN when
        undefined), ``auc_mean`` (over the defined labels) and ``positives_per_label``.

    Raises:
        FileNotFoundError: when a CSV does not exist.
        ValueError: naming the file (and row or ids) for bad tables, a truth image without prediction, or no
            common image.
        ImportError: when the metrics plugin is not installed.
    """
    compute_per_class_roc_auc = metric_function("compute_per_class_roc_auc")
    prediction = read_label_scores(pred_csv)
    truth = read_label_truth(truth_csv, prediction.label_names)
    ids = matched_ids(truth.ids, prediction.ids, truth.path, prediction.path)
    scores, indicators = _values_of(prediction, ids), _values_of(truth, ids)
    per_label = compute_per_class_roc_auc(scores, indicators)
    defined = per_label[~np.isnan(per_label)]
    metrics: dict[str, Any] = {
        "num_images": len(ids),
        "labels": prediction.label_names,
        "auc_per_label": dict(zip(prediction.label_names, per_label)),
        "auc_mean": float(defined.mean()) if defined.size else float("nan"),
        "positives_per_label": dict(zip(prediction.label_names, indicators.sum(axis=0).astype(np.int64))),
    }
    if out_dir is not None:
        folder = Path(out_dir)
        if metrics_file:
            write_metrics_json(metrics, folder)
        curves = {}
        for column, (label, auc) in enumerate(zip(prediction.label_names, per_label)):
            if np.isfinite(auc):
                false_positive_rate, true_positive_rate, _ = roc_curve(indicators[:, column], scores[:, column])
                curves[f"{label} (AUC {auc:.3f})"] = (false_positive_rate, true_positive_rate)
        plot_roc_curves(curves, folder / "roc.png", title=f"ROC per label (mean AUC {metrics['auc_mean']:.3f})")
    return metrics
