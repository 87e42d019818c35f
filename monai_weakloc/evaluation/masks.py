"""Evaluate segmentation probability maps against ground-truth lesion masks (IDRiD microaneurysms and the like).

Masks and maps are matched by image id (file name without its suffix): ``IDRiD_55.tif`` and
``IDRiD_55.png`` belong together (of one map in several formats the most precise is read); every file
must have a partner, otherwise the unmatched files are listed in a ``ValueError``. Truth masks are binarised (any channel > 0); prediction maps are 8-bit images
(levels 0..255 scaled to [0, 1]) or NIfTI/``.npy`` probabilities (see :mod:`monai_weakloc.evaluation.map_files`).

Images are read one pair at a time into the cumulative metrics of the ``weakloc_metrics`` plugin, so that
memory holds one image and per-image summaries only:

- pixel precision-recall (``PixelPRMetric``, 1000 probability bins): average precision, trapezoid
  AUC-PR, F1/precision/recall at ``threshold``, both pooled over all pixels and averaged over images
  (``pixel_pr``), each beside its no-skill level: the average precision of a map that knows nothing, the
  positive pixel fraction (of all pixels pooled, or the mean of the images' fractions);
- lesion FROC (``HeatmapFROCMetric``): lesions are the connected components of the truth mask,
  detections the components of ``map >= detection_threshold`` at their maxima; the score is reported at
  the CAMELYON16 (1/4 .. 8 false positives per image) and the Retinopathy Online Challenge (1/8 .. 8)
  operating points, by MONAI's ``compute_froc_score`` on the curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.metrics.froc import compute_froc_score
from sklearn.metrics import precision_recall_curve

from monai_weakloc.evaluation.map_files import map_files_by_id, read_mask, read_probability_map
from monai_weakloc.evaluation.metric_functions import metric_function
from monai_weakloc.evaluation.results import write_metrics_json
from monai_weakloc.report.plots import plot_froc_curve, plot_precision_recall_curves
from monai_weakloc.terminal import terminal_progress

__all__ = ["PR_BINS", "matched_map_files", "evaluate_masks"]

PR_BINS = 1000
"""Probability bins of the pixel precision-recall (exact F1/precision/recall, binned curve)."""
POOLINGS = ("all", "mean")
"""Poolings of the pixel precision-recall, each reported in ``pixel_pr`` (see ``PixelPRMetric``)."""
FROC_PRESET_NAMES = ("camelyon16", "roc")
"""Named FROC operating point sets, each reported in ``froc``; the ``heatmap_froc`` metric resolves them to points."""
SHOWN_FILES = 5


def matched_map_files(truth_dir: str | Path, pred_dir: str | Path) -> list[tuple[str, Path, Path]]:
    """Pair the truth masks and prediction maps of two folders by image id.

    Args:
        truth_dir: folder of truth masks.
        pred_dir: folder of prediction maps.

    Returns:
        ``(id, truth file, prediction file)`` in sorted id order.

    Raises:
        FileNotFoundError: when a folder does not exist.
        ValueError: when a folder holds no map file, or listing the files without a partner.
    """
    truth = map_files_by_id(truth_dir, "truth mask")
    prediction = map_files_by_id(pred_dir, "prediction map")
    for files, folder in ((truth, truth_dir), (prediction, pred_dir)):
        if not files:
            raise ValueError(f"{Path(folder)}: no mask or map file (PNG, TIFF, JPEG, NIfTI or .npy)")
    unmatched = [
        f"{files[identifier]} (no file {identifier}.* in {other_folder})"
        for files, others, other_folder in ((truth, prediction, pred_dir), (prediction, truth, truth_dir))
        for identifier in files
        if identifier not in others
    ]
    if unmatched:
        more = f"; and {len(unmatched) - SHOWN_FILES} more" if len(unmatched) > SHOWN_FILES else ""
        shown = "; ".join(unmatched[:SHOWN_FILES]) + more
        raise ValueError(f"{len(unmatched)} file(s) without a partner of the same name: {shown}")
    return [(identifier, truth[identifier], prediction[identifier]) for identifier in sorted(truth)]


def _operating_points(
    eval_thresholds: str | Sequence[float], presets: dict[str, tuple[float, ...]]
) -> dict[str, tuple[float, ...]]:
    """The FROC operating point sets to report: both presets, plus ``custom`` for a sequence."""
    points = dict(presets)
    if not isinstance(eval_thresholds, str):
        points["custom"] = tuple(float(value) for value in eval_thresholds)
    return points


def _froc_at(fps_per_image: np.ndarray, sensitivity: np.ndarray, points: tuple[float, ...]) -> dict[str, Any]:
    """Score and per-point sensitivity of a FROC curve at ``points`` (NaN without a curve)."""
    if fps_per_image.size == 0:
        return {"score": float("nan"), "fps_per_image": points, "sensitivity": [float("nan")] * len(points)}
    at_points = [float(compute_froc_score(fps_per_image, sensitivity, (point,))) for point in points]
    score = float(compute_froc_score(fps_per_image, sensitivity, points))
    return {"score": score, "fps_per_image": points, "sensitivity": at_points}


def _pooled_pr_curve(positive: np.ndarray, negative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) of the pooled binned pixels, bin index as score (for the plot); empty without positives."""
    if positive.sum() == 0:
        return np.zeros(0), np.zeros(0)
    labels = np.repeat([True, False], PR_BINS)
    scores = np.tile(np.arange(PR_BINS, dtype=np.float64), 2)
    weights = np.concatenate([positive, negative]).astype(np.float64)
    occupied = weights > 0
    precision, recall, _ = precision_recall_curve(labels[occupied], scores[occupied], sample_weight=weights[occupied])
    return recall, precision


def _pooled_fraction(positive_histogram: np.ndarray, negative_histogram: np.ndarray) -> float:
    """Positive pixels over all pixels of every image (NaN without a pixel)."""
    positives, total = int(positive_histogram.sum()), int(positive_histogram.sum() + negative_histogram.sum())
    return positives / total if total else float("nan")


def _pixel_pr_section(
    result: Any, positive_fractions: list[float], positive_histogram: np.ndarray, negative_histogram: np.ndarray
) -> dict[str, Any]:
    """The values of one pooling beside its no-skill average precision.

    ``result`` is the plugin's ``PixelPRResult``. The no-skill level is the positive pixel fraction: of all
    pixels pooled for ``"all"``; for ``"mean"``, the mean fraction of the images with a lesion pixel (the
    images that pooling averages over).
    """
    if result.pooling == "all":
        no_skill = _pooled_fraction(positive_histogram, negative_histogram)
    else:
        used = [fraction for fraction in positive_fractions if fraction > 0]
        no_skill = float(np.mean(used)) if used else float("nan")
    return {
        "average_precision": result.average_precision,
        "auc_pr": result.auc_pr,
        "f1": result.f1,
        "precision": result.precision,
        "recall": result.recall,
        "num_images_used": result.num_images_used,
        "no_skill_average_precision": no_skill,
    }


def evaluate_masks(
    truth_dir: str | Path,
    pred_dir: str | Path,
    out_dir: str | Path | None = None,
    threshold: float = 0.5,
    pooling: str = "all",
    eval_thresholds: str | Sequence[float] = "roc",
    detection_threshold: float = 0.5,
    *,
    metrics_file: bool = True,
) -> dict[str, Any]:
    """Pixel precision-recall and lesion FROC of probability maps against truth masks.

    Args:
        truth_dir: folder of truth masks (any channel > 0 is lesion).
        pred_dir: folder of prediction maps named as the masks.
        out_dir: when given, write ``metrics.json``, ``pr.png`` and ``froc.png`` there.
        threshold: pixels ``>= threshold`` are predicted lesion for F1, precision and recall.
        pooling: the pooling of the top-level values: ``"all"`` (one curve over the pooled pixels) or
            ``"mean"`` (mean of per-image values; images without a lesion pixel are left out, with a
            warning). Both are reported in ``pixel_pr``.
        eval_thresholds: the FROC operating points of ``froc_score``: ``"roc"``, ``"camelyon16"`` or a
            sequence of false positives per image; both presets are reported in ``froc`` anyway.
        detection_threshold: map pixels ``>= detection_threshold`` form the FROC detections (> 0).
        metrics_file: with ``out_dir``, write ``metrics.json`` there too (``False``: the plots only, for a
            caller that writes one ``metrics.json`` of several tasks).

    Returns:
        ``num_images``, ``threshold``, ``pooling``, ``num_bins``, ``average_precision``, ``auc_pr``, ``f1``,
        ``precision``, ``recall``, ``num_images_used`` (all of ``pooling``), ``pr_curve`` (``recall`` and
        ``precision`` of the pixels pooled, over the probability bins), ``positive_pixel_fraction`` (of all
        pixels pooled), ``pixel_pr`` (per pooling ``all`` and ``mean``: ``average_precision``, ``auc_pr``,
        ``f1``, ``precision``, ``recall``, ``num_images_used`` and ``no_skill_average_precision``, the
        positive pixel fraction, pooled or the mean over the images used), ``num_lesions``, ``froc_score``,
        ``froc_camelyon16``,
        ``froc_roc`` and ``froc`` (``eval_thresholds``, ``detection_threshold``, the curve ``fps_per_image``
        / ``sensitivity``, and per operating point set its ``score``, points and sensitivity there).
        Undefined values (no lesion) are NaN.

    Raises:
        FileNotFoundError: when a folder does not exist.
        ValueError: naming the files, for unmatched files, maps and masks of different sizes, unreadable or
            out-of-range maps, or bad options.
        ImportError: when the metrics plugin is not installed.
    """
    pixel_pr, heatmap_froc = metric_function("pixel_pr"), metric_function("heatmap_froc")
    pixel_metrics = {name: pixel_pr(threshold=threshold, pooling=name, num_bins=PR_BINS) for name in POOLINGS}
    if pooling not in pixel_metrics:
        raise ValueError(f"pooling must be one of {tuple(pixel_metrics)}, got {pooling!r}")
    froc_metric = heatmap_froc(detection_threshold=detection_threshold, eval_thresholds=eval_thresholds)
    pairs = matched_map_files(truth_dir, pred_dir)
    positive_histogram = np.zeros(PR_BINS, dtype=np.int64)
    negative_histogram = np.zeros(PR_BINS, dtype=np.int64)
    positive_fractions: list[float] = []
    for _, truth_file, prediction_file in terminal_progress(pairs, "masks"):
        mask, probabilities = read_mask(truth_file), read_probability_map(prediction_file)
        if mask.shape != probabilities.shape:
            raise ValueError(
                f"{prediction_file}: map size {probabilities.shape} differs from mask {truth_file} size {mask.shape}"
            )
        y_pred = torch.from_numpy(probabilities)[None, None]
        y = torch.from_numpy(mask.astype(np.float32))[None, None]
        for pixel_metric in pixel_metrics.values():
            pixel_metric(y_pred=y_pred, y=y)
        froc_metric(y_pred=y_pred, y=y)
        positive_fractions.append(float(mask.mean()) if mask.size else 0.0)
        bins = np.minimum((probabilities.astype(np.float64) * PR_BINS).astype(np.int64), PR_BINS - 1)
        positive_histogram += np.bincount(bins[mask], minlength=PR_BINS)
        negative_histogram += np.bincount(bins[~mask], minlength=PR_BINS)
    pixel_by_pooling = {name: metric.aggregate_result() for name, metric in pixel_metrics.items()}
    pixel = pixel_by_pooling[pooling]
    lesions = froc_metric.aggregate_result()
    presets = {name: heatmap_froc(eval_thresholds=name).eval_thresholds for name in FROC_PRESET_NAMES}
    operating_points = {
        name: _froc_at(lesions.fps_per_image, lesions.sensitivity, points)
        for name, points in _operating_points(eval_thresholds, presets).items()
    }
    recall, precision = _pooled_pr_curve(positive_histogram, negative_histogram)
    metrics: dict[str, Any] = {
        "num_images": len(pairs),
        "threshold": threshold,
        "pooling": pooling,
        "num_bins": PR_BINS,
        "average_precision": pixel.average_precision,
        "auc_pr": pixel.auc_pr,
        "f1": pixel.f1,
        "precision": pixel.precision,
        "recall": pixel.recall,
        "num_images_used": pixel.num_images_used,
        "positive_pixel_fraction": _pooled_fraction(positive_histogram, negative_histogram),
        "pr_curve": {"recall": recall, "precision": precision},
        "pixel_pr": {
            name: _pixel_pr_section(result, positive_fractions, positive_histogram, negative_histogram)
            for name, result in pixel_by_pooling.items()
        },
        "num_lesions": lesions.num_lesions,
        "froc_score": lesions.score,
        "froc_camelyon16": operating_points["camelyon16"]["score"],
        "froc_roc": operating_points["roc"]["score"],
        "froc": {
            "eval_thresholds": eval_thresholds if isinstance(eval_thresholds, str) else "custom",
            "detection_threshold": detection_threshold,
            "fps_per_image": lesions.fps_per_image,
            "sensitivity": lesions.sensitivity,
            **operating_points,
        },
    }
    if out_dir is not None:
        folder = Path(out_dir)
        if metrics_file:
            write_metrics_json(metrics, folder)
        label = f"AP {pixel.average_precision:.3f}, AUC-PR {pixel.auc_pr:.3f} ({pooling})"
        no_skill = metrics["positive_pixel_fraction"]
        plot_precision_recall_curves(
            {label: (recall, precision), f"no skill, AP {no_skill:.3f}": (np.array([0.0, 1.0]), np.full(2, no_skill))},
            folder / "pr.png",
            title="Pixel precision-recall (pixels pooled)",
        )
        marked = {
            f"{name} points, score {values['score']:.3f}": (values["fps_per_image"], values["sensitivity"])
            for name, values in operating_points.items()
        }
        plot_froc_curve(lesions.fps_per_image, lesions.sensitivity, folder / "froc.png", marked, title="Lesion FROC")
    return metrics
