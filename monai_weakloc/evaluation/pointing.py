"""Evaluate positive-class heatmaps by where they peak: STL localization AP and pointing accuracy.

Inputs, matched by image id (see :func:`monai_weakloc.evaluation.tables.image_id`):

- truth: a lesion-box CSV ``image,label,x,y,w,h`` (see :func:`~monai_weakloc.evaluation.tables.read_box_table`);
  the images with a box are the *positives* (labels are not used);
- predictions: one row per evaluated image (:func:`read_positive_probabilities`); its images without a
  truth box are the *negatives*; every truth image needs a row;
- heatmaps: a folder with the positive-class map of every predicted image, ``<image>.<ext>`` or the sum of
  its ``<image>_<name>.<ext>`` maps (PNG, TIFF, NIfTI, ``.npy``; see
  :func:`~monai_weakloc.evaluation.boxes.find_heatmap_files`). The bundles write the maps of the
  abnormal classes only (``<image>_grade1.png`` ... for grades 1..K-1), so the sum is the map of "abnormal".
  Only the positives' maps are read: a negative is a false positive at its probability wherever its map
  peaks.

Map geometry. The point of a positive is the arg-max of its map resized bilinearly (``align_corners=False``)
to the image size, by :func:`weakloc_metrics.pointing.locate_activation_peak`:

- with ``image_sizes``, every map is resized to its image's (H, W) (unchanged when it already has that size);
- without, the map is taken to be in the original image geometry (what the bundles write). A map that
  cannot hold a truth box of its image (a box ending right of its width or below its height) is then not in
  image geometry, and its image size cannot be inferred: this is a ``ValueError`` naming the map, the box and
  the truth file, asking for the image sizes.

Metrics (from ``weakloc_metrics.pointing``): the STL localization AP (a positive whose point lies in one of
its truth boxes enlarged by ``tolerance`` pixels is a true positive, every other image a false positive,
ranked by the positive-class probability; recall over all positives) and the pointing accuracy (share of
positives with a correct point).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monai_weakloc.data.readers.checks import IdRegistry, parse_float
from monai_weakloc.data.readers.files import absolute_root
from monai_weakloc.data.readers.tables import read_csv_table
from monai_weakloc.data.records import ProblemLog
from monai_weakloc.evaluation.boxes import find_heatmap_files
from monai_weakloc.evaluation.map_files import read_heatmap
from monai_weakloc.evaluation.metrics_plugin import metrics_module
from monai_weakloc.evaluation.results import write_metrics_json
from monai_weakloc.evaluation.tables import image_id, read_box_table
from monai_weakloc.report.plots import plot_precision_recall_curves

__all__ = [
    "PositiveProbabilities",
    "read_positive_probabilities",
    "localization_precision_recall_curve",
    "evaluate_pointing",
]

IMAGE = "image"
POSITIVE_PROBABILITY = "prob"
CLASS_PROBABILITY = re.compile(r"^prob_(\d+)$")
PROBABILITY_SUM_TOLERANCE = 1e-3
SHOWN_IDS = 5


@dataclass(frozen=True)
class PositiveProbabilities:
    """The positive-class probability of each predicted image.

    Attributes:
        path: the CSV file.
        ids: (N,) image ids, in file order.
        probabilities: (N,) float64 positive-class probabilities.
    """

    path: Path
    ids: list[str]
    probabilities: np.ndarray


def _positive_columns(table: Path, names: Sequence[str]) -> list[str]:
    """The columns whose sum is the positive-class probability: ``prob``, else ``prob_1`` .. ``prob_{K-1}``."""
    if POSITIVE_PROBABILITY in names:
        return [POSITIVE_PROBABILITY]
    indices = sorted(int(match.group(1)) for match in map(CLASS_PROBABILITY.match, names) if match)
    positive = [index for index in indices if index >= 1]
    if not positive:
        found = ", ".join(repr(name) for name in names)
        raise ValueError(
            f"{table}: no positive-class probability: expected a column 'prob' (image,prob) or 'prob_1' "
            f"(image,level,prob_0,prob_1); found {found}"
        )
    missing = [f"prob_{index}" for index in range(1, positive[-1] + 1) if index not in positive]
    if missing:
        raise ValueError(f"{table}: class probability column(s) {', '.join(missing)} missing")
    return [f"prob_{index}" for index in positive]


def read_positive_probabilities(path: str | Path) -> PositiveProbabilities:
    """Read the positive-class probability of each image (other columns are ignored).

    Two layouts are accepted:

    - ``image,prob``: ``prob`` is the positive-class probability (used whenever the column exists);
    - ``image,level,prob_0,prob_1`` (the bundles' ``predictions.csv``; ``level`` is not needed): ``prob_1``
      is used. With more classes, ``prob_0`` .. ``prob_{K-1}``, the probability of "abnormal",
      ``prob_1 + ... + prob_{K-1}``, is used, matching the bundles' heatmaps of grades 1..K-1.

    Args:
        path: the CSV file.

    Returns:
        the probabilities.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: naming the file (and row and column), for no ``image`` or probability column, an empty
            table, an empty or duplicate image, or a probability that is not a number in [0, 1].
    """
    table = absolute_root(path)
    if not table.is_file():
        raise FileNotFoundError(f"prediction CSV not found: {table}")
    log = ProblemLog("raise")
    rows = read_csv_table(table, (IMAGE,), log)
    if not rows:
        raise ValueError(f"{table}: the prediction table has no data rows")
    columns = _positive_columns(table, list(rows[0].values))
    seen = IdRegistry(log, what="image")
    ids, probabilities = [], []
    for row in rows:
        if not row.values[IMAGE]:
            raise ValueError(f"{table}, row {row.number}: {IMAGE} is empty")
        identifier = image_id(row.values[IMAGE])
        seen.add(identifier, table, row.number)
        values = [
            float(parse_float(row.values[column], field=column, file=table, row=row.number, problems=log))
            for column in columns
        ]
        outside = [column for column, value in zip(columns, values) if not 0.0 <= value <= 1.0]
        if outside:
            raise ValueError(f"{table}, row {row.number}: {outside[0]} {row.values[outside[0]]!r} is not in [0, 1]")
        if sum(values) > 1.0 + PROBABILITY_SUM_TOLERANCE:
            raise ValueError(f"{table}, row {row.number}: {' + '.join(columns)} = {sum(values):.4f} exceeds 1")
        ids.append(identifier)
        probabilities.append(sum(values))
    return PositiveProbabilities(path=table, ids=ids, probabilities=np.asarray(probabilities, dtype=np.float64))


def localization_precision_recall_curve(
    positive_probs: np.ndarray, true_positive: np.ndarray, num_positives: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall of the STL localization AP at each distinct probability threshold.

    ``sklearn.metrics.precision_recall_curve`` divides recall by the true positives of its labels (here the
    correctly pointed positives) and is undefined without one; this curve divides by all positives, so that
    ``sum((recall[i] - recall[i - 1]) * precision[i])`` (recall[-1] = 0) is the localization AP.

    Args:
        positive_probs: (N,) positive-class probabilities.
        true_positive: (N,) bool, the image is a positive with a correct point.
        num_positives: the number of positive images (at least 1).

    Returns:
        (T,) thresholds in descending order, (T,) precision and (T,) recall of the images with a probability
        at or above each.

    Raises:
        ValueError: when the inputs differ in length or ``num_positives`` is not positive.
    """
    probs = np.asarray(positive_probs, dtype=np.float64).ravel()
    hits = np.asarray(true_positive, dtype=bool).ravel()
    if probs.size != hits.size:
        raise ValueError(f"positive_probs ({probs.size}) and true_positive ({hits.size}) differ in length")
    if num_positives < 1:
        raise ValueError(f"num_positives must be at least 1, got {num_positives}")
    order = np.argsort(-probs, kind="stable")
    sorted_probs = probs[order]
    last_of_threshold = np.r_[np.flatnonzero(np.diff(sorted_probs)), sorted_probs.size - 1]
    true_positives = np.cumsum(hits[order])[last_of_threshold]
    return sorted_probs[last_of_threshold], true_positives / (last_of_threshold + 1), true_positives / num_positives


def _positive_class_map(paths: Sequence[Path]) -> np.ndarray:
    """(h, w) map of one image: its one map, or the sum of its per-name maps (all of one size)."""
    maps = [read_heatmap(paths[0])]
    for path in paths[1:]:
        heatmap = read_heatmap(path)
        if heatmap.shape != maps[0].shape:
            raise ValueError(f"{path}: heatmap size {heatmap.shape} differs from {paths[0].name}'s {maps[0].shape}")
        maps.append(heatmap)
    return np.sum(maps, axis=0)


def _target_size(
    identifier: str,
    heatmap: np.ndarray,
    map_path: Path,
    boxes: np.ndarray,
    truth_path: Path,
    image_sizes: Mapping[str, tuple[int, int]] | None,
) -> tuple[int, int]:
    """The (H, W) the map is resized to: the image size when known, else the map's own (checked against the boxes)."""
    if image_sizes is not None:
        if identifier not in image_sizes:
            raise ValueError(f"image_sizes: no size for the annotated image {identifier!r} of {truth_path}")
        size = tuple(int(value) for value in image_sizes[identifier])
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"image_sizes: image {identifier!r} has size {image_sizes[identifier]}, not (H, W) > 0")
        return size[0], size[1]
    height, width = heatmap.shape
    outside = (boxes[:, 0] + boxes[:, 2] > width) | (boxes[:, 1] + boxes[:, 3] > height)
    if outside.any():
        box = ", ".join(f"{value:g}" for value in boxes[int(np.flatnonzero(outside)[0])])
        raise ValueError(
            f"{map_path}: the {height} x {width} heatmap is smaller than the truth box ({box}) of image "
            f"{identifier!r} in {truth_path} needs; give the image sizes (image_sizes, or --images on the "
            "command line) to upsample the maps to their images"
        )
    return height, width


def _shown(ids: Sequence[str]) -> str:
    """The first few ids, quoted, and how many more."""
    shown = ", ".join(repr(identifier) for identifier in ids[:SHOWN_IDS])
    return shown + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")


def evaluate_pointing(
    truth_csv: str | Path,
    pred_csv: str | Path,
    heatmaps_dir: str | Path,
    out_dir: str | Path | None = None,
    tolerance: float = 16.0,
    image_sizes: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """STL localization AP and pointing accuracy of positive-class heatmaps (see the module docstring).

    Args:
        truth_csv: CSV ``image,label,x,y,w,h`` of the truth lesion boxes; its images are the positives.
        pred_csv: CSV ``image,prob`` or ``image,level,prob_0,prob_1`` (see :func:`read_positive_probabilities`)
            of every evaluated image; those without a truth box are the negatives.
        heatmaps_dir: folder of positive-class heatmaps ``<image>.<ext>`` or ``<image>_<name>.<ext>`` (summed),
            one for every predicted image.
        out_dir: when given, write ``metrics.json`` and ``pointing_pr.png`` there.
        tolerance: enlargement of the truth boxes in pixels (16: half a global stride of 32).
        image_sizes: image id -> (H, W) of at least the positives; each map is resized bilinearly to its
            image. ``None``: the maps are in the original image geometry.

    Returns:
        ``num_images``, ``num_positive_images``, ``num_negative_images``, ``num_correct_points`` (positives
        pointed correctly), ``num_resized_heatmaps``, ``tolerance``, ``localization_ap``,
        ``pointing_accuracy``, ``precision_recall_curve`` (``thresholds``, ``precision``, ``recall``, see
        :func:`localization_precision_recall_curve`), ``points`` (positive id -> [row, column] of its point in
        image pixels) and ``missed_images`` (positives whose point is not in a box).

    Raises:
        FileNotFoundError: when a CSV or the heatmap folder does not exist.
        ValueError: naming the file (and row or ids) for bad tables, a truth image without prediction, a
            missing heatmap or image size, a map smaller than its truth boxes need, or a bad tolerance.
        ImportError: when the metrics plugin is not installed.
    """
    pointing = metrics_module("pointing")
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number of pixels >= 0, got {tolerance!r}")
    truth = read_box_table(truth_csv, "truth")
    prediction = read_positive_probabilities(pred_csv)
    predicted = set(prediction.ids)
    unpredicted = [identifier for identifier in truth.boxes if identifier not in predicted]
    if unpredicted:
        raise ValueError(
            f"{prediction.path}: no prediction for {len(unpredicted)} annotated image(s) of {truth.path}: "
            f"{_shown(unpredicted)}"
        )
    heatmap_files = find_heatmap_files(heatmaps_dir, prediction.ids)
    has_annotation = np.array([identifier in truth.boxes for identifier in prediction.ids])
    correct = np.zeros(len(prediction.ids), dtype=bool)
    points: dict[str, list[int]] = {}
    missed: list[str] = []
    resized = 0
    for index in np.flatnonzero(has_annotation):
        identifier = prediction.ids[index]
        paths, boxes = heatmap_files[identifier], truth.boxes[identifier]
        heatmap = _positive_class_map(paths)
        size = _target_size(identifier, heatmap, paths[0], boxes, truth.path, image_sizes)
        resized += int(heatmap.shape != size)
        point = pointing.locate_activation_peak(heatmap, size)
        correct[index] = pointing.point_in_boxes(point, boxes, tolerance)
        points[identifier] = list(point)
        if not correct[index]:
            missed.append(identifier)
    num_positives = int(has_annotation.sum())
    thresholds, precision, recall = localization_precision_recall_curve(
        prediction.probabilities, correct, num_positives
    )
    metrics: dict[str, Any] = {
        "num_images": len(prediction.ids),
        "num_positive_images": num_positives,
        "num_negative_images": len(prediction.ids) - num_positives,
        "num_correct_points": int(correct.sum()),
        "num_resized_heatmaps": resized,
        "tolerance": float(tolerance),
        "localization_ap": pointing.compute_localization_ap(prediction.probabilities, correct, has_annotation),
        "pointing_accuracy": pointing.compute_pointing_accuracy(correct, has_annotation),
        "precision_recall_curve": {"thresholds": thresholds, "precision": precision, "recall": recall},
        "points": points,
        "missed_images": missed,
    }
    if out_dir is not None:
        folder = Path(out_dir)
        write_metrics_json(metrics, folder)
        plot_precision_recall_curves(
            {f"localization AP {metrics['localization_ap']:.3f}": (recall, precision)},
            folder / "pointing_pr.png",
            title=f"STL localization precision-recall (tolerance {tolerance:g} px)",
        )
    return metrics
