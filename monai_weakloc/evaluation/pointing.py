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

Points from a table instead. With ``points_csv`` (``image,label,x,y[,score]``, the bundles' ``points.csv``) the
point of a positive is the pixel holding its highest-scoring point (the first on ties or without scores): the
method's own points rather than its maps' maxima. A positive without a point is missed. ``point_source`` in
the result says which was used.

One class of a multi-label prediction. With ``class_name``, the positives are the images with a truth box of
that label, the ranking score is the prediction table's column of that name (``image,labels,<class>,...``),
the map of an image is its ``<image>_<class_name>`` heatmap and its points are those labelled ``class_name``.
``image_ids`` restricts the evaluated images (for example to those whose label truth says the class is absent,
besides the positives).

Metrics (from ``weakloc_metrics.pointing``): the STL localization AP (a positive whose point lies in one of
its truth boxes enlarged by ``tolerance`` pixels is a true positive, every other image a false positive,
ranked by the positive-class probability; recall over all positives) and the pointing accuracy (share of
positives with a correct point).

Baselines (:data:`POINTING_BASELINES`), scored the same way with the method's probabilities as the ranking:
every positive pointed at the pixel holding its image's centre (``image_centre``), or at the training set's
most frequent lesion position given as fractions of the image height and width (``lesion_position``,
``most_frequent_lesion_position``). A baseline that cannot be placed (no training position given, or an image
size unknown when points come from a table without ``image_sizes``) is reported as ``{"missing": <why>}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
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
from monai_weakloc.evaluation.metric_functions import metric_function
from monai_weakloc.evaluation.results import write_metrics_json
from monai_weakloc.evaluation.tables import image_id, read_box_table
from monai_weakloc.report.plots import plot_precision_recall_curves
from monai_weakloc.terminal import terminal_progress

__all__ = [
    "POINT_SOURCES",
    "POINTING_BASELINES",
    "PositiveProbabilities",
    "PointTable",
    "read_positive_probabilities",
    "read_class_probabilities",
    "read_point_table",
    "image_centre_point",
    "lesion_position_point",
    "localization_precision_recall_curve",
    "evaluate_pointing",
]

IMAGE = "image"
POSITIVE_PROBABILITY = "prob"
CLASS_PROBABILITY = re.compile(r"^prob_(\d+)$")
PROBABILITY_SUM_TOLERANCE = 1e-3
SHOWN_IDS = 5
POINT_COLUMNS = ("label", "x", "y")
POINT_SOURCES: tuple[str, ...] = ("heatmaps", "points")
"""Where the point of a positive comes from: its heatmap's maximum, or the method's ``points.csv``."""
POINTING_BASELINES: tuple[str, ...] = ("image_centre", "most_frequent_lesion_position")
"""The baselines reported beside the method (see the module docstring)."""


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
    return _probability_rows(table, rows, columns, log)


def _probability_rows(
    table: Path, rows: Sequence[Any], columns: Sequence[str], log: ProblemLog
) -> PositiveProbabilities:
    """The sum of ``columns`` of every row, checked to be probabilities; ids checked to be unique."""
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


def read_class_probabilities(path: str | Path, class_name: str) -> PositiveProbabilities:
    """Read the probability of one class from a multi-label table ``image,labels,<class1>,<class2>,...``.

    Args:
        path: the CSV file (the bundles' multi-label ``predictions.csv``; other columns are ignored).
        class_name: the column to read.

    Returns:
        the class's probability of each image.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: naming the file (and row and column), for no ``image`` or ``class_name`` column, an empty
            table, an empty or duplicate image, or a probability that is not a number in [0, 1].
    """
    table = absolute_root(path)
    if not table.is_file():
        raise FileNotFoundError(f"prediction CSV not found: {table}")
    log = ProblemLog("raise")
    rows = read_csv_table(table, (IMAGE, class_name), log)
    if not rows:
        raise ValueError(f"{table}: the prediction table has no data rows")
    return _probability_rows(table, rows, [class_name], log)


@dataclass(frozen=True)
class PointTable:
    """Points ``image,label,x,y[,score]`` gathered per image (the bundles' ``points.csv``).

    Attributes:
        path: the CSV file.
        points: image id -> (N, 2) float64 ``x, y`` in pixels of the original image, images in order of
            their first row.
        labels: image id -> N labels.
        scores: image id -> (N,) float64 scores when the table has a ``score`` column, else ``None``.
    """

    path: Path
    points: dict[str, np.ndarray]
    labels: dict[str, list[str]]
    scores: dict[str, np.ndarray] | None


def read_point_table(path: str | Path) -> PointTable:
    """Read a point CSV ``image,label,x,y[,score]``, one row per point (other columns are ignored).

    A table with a header and no row is a method that found no point.

    Args:
        path: the CSV file.

    Returns:
        the points per image.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: naming the file, row, image and column, for a missing column, an empty image or label, a
            coordinate that is not a finite number >= 0, or a score that is not a finite number.
    """
    table = absolute_root(path)
    if not table.is_file():
        raise FileNotFoundError(f"point CSV not found: {table}")
    log = ProblemLog("raise")
    rows = read_csv_table(table, (IMAGE, *POINT_COLUMNS), log)
    with_scores = bool(rows) and "score" in rows[0].values
    points: dict[str, list[tuple[float, float]]] = {}
    labels: dict[str, list[str]] = {}
    scores: dict[str, list[float]] = {}
    for row in rows:
        if not row.values[IMAGE]:
            raise ValueError(f"{table}, row {row.number}: {IMAGE} is empty")
        identifier = image_id(row.values[IMAGE])
        if not row.values["label"]:
            log.report(table, row.number, "label is empty", identifier)
        coordinates = []
        for column in ("x", "y"):
            value = parse_float(
                row.values[column], field=column, file=table, row=row.number, problems=log, image_id=identifier
            )
            if value < 0:
                message = f"{column} {row.values[column]!r} is negative: outside the image"
                log.report(table, row.number, message, identifier)
            coordinates.append(value)
        points.setdefault(identifier, []).append((coordinates[0], coordinates[1]))
        labels.setdefault(identifier, []).append(row.values["label"])
        if with_scores:
            score = parse_float(
                row.values["score"], field="score", file=table, row=row.number, problems=log, image_id=identifier
            )
            scores.setdefault(identifier, []).append(score)
    return PointTable(
        path=table,
        points={identifier: np.asarray(values, dtype=np.float64) for identifier, values in points.items()},
        labels=labels,
        scores={identifier: np.asarray(values, dtype=np.float64) for identifier, values in scores.items()}
        if with_scores
        else None,
    )


def _top_point(table: PointTable, identifier: str, class_name: str | None) -> tuple[int, int] | None:
    """(row, column) of the pixel holding an image's highest-scoring point (of ``class_name`` when given).

    The first point wins on ties and without scores; ``None`` when the image has no such point.
    """
    labels = table.labels.get(identifier, [])
    candidates = [index for index, label in enumerate(labels) if class_name is None or label == class_name]
    if not candidates:
        return None
    best = candidates[0]
    if table.scores is not None:
        scores = table.scores[identifier]
        best = max(candidates, key=lambda index: (scores[index], -index))
    x, y = table.points[identifier][best]
    return int(math.floor(y)), int(math.floor(x))


def image_centre_point(image_size: Sequence[int]) -> tuple[int, int]:
    """(row, column) of the pixel holding the centre (H / 2, W / 2) of an (H, W) image."""
    return int(image_size[0]) // 2, int(image_size[1]) // 2


def lesion_position_point(position: Sequence[float], image_size: Sequence[int]) -> tuple[int, int]:
    """(row, column) of the pixel at ``position`` = (row fraction, column fraction) of an (H, W) image.

    Args:
        position: fractions of the height and width in [0, 1] (a lesion position learnt on other images).
        image_size: (H, W) of the image.

    Returns:
        the pixel, clipped to the image (fraction 1 is the last row or column).
    """
    height, width = int(image_size[0]), int(image_size[1])
    return min(int(position[0] * height), height - 1), min(int(position[1] * width), width - 1)


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


def _known_size(
    identifier: str, image_sizes: Mapping[str, tuple[int, int]], truth_path: Path
) -> tuple[int, int]:
    """The (H, W) of ``image_sizes`` for an annotated image, checked."""
    if identifier not in image_sizes:
        raise ValueError(f"image_sizes: no size for the annotated image {identifier!r} of {truth_path}")
    size = tuple(int(value) for value in image_sizes[identifier])
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"image_sizes: image {identifier!r} has size {image_sizes[identifier]}, not (H, W) > 0")
    return size[0], size[1]


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
        return _known_size(identifier, image_sizes, truth_path)
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


def _positive_boxes(truth: Any, class_name: str | None) -> dict[str, np.ndarray]:
    """Image id -> (K, 4) truth boxes of the positives: every box, or the boxes labelled ``class_name``."""
    if class_name is None:
        return dict(truth.boxes)
    positives = {}
    for identifier, boxes in truth.boxes.items():
        kept = [index for index, label in enumerate(truth.labels[identifier]) if label == class_name]
        if kept:
            positives[identifier] = boxes[kept]
    if not positives:
        labels = sorted({label for labels in truth.labels.values() for label in labels})
        raise ValueError(f"{truth.path}: no truth box labelled {class_name!r} (labels: {', '.join(labels)})")
    return positives


def _evaluated_images(
    prediction: PositiveProbabilities, image_ids: Sequence[str] | None
) -> tuple[list[str], np.ndarray]:
    """The evaluated ids (``image_ids``, else every predicted image) and their (N,) probabilities."""
    if image_ids is None:
        return list(prediction.ids), prediction.probabilities
    position = {identifier: index for index, identifier in enumerate(prediction.ids)}
    wanted = list(dict.fromkeys(image_ids))
    unpredicted = [identifier for identifier in wanted if identifier not in position]
    if unpredicted:
        raise ValueError(
            f"{prediction.path}: no prediction for {len(unpredicted)} evaluated image(s): {_shown(unpredicted)}"
        )
    return wanted, prediction.probabilities[[position[identifier] for identifier in wanted]]


def _class_heatmap_files(heatmaps_dir: str | Path, ids: list[str], class_name: str) -> dict[str, list[Path]]:
    """The ``<image>_<class_name>`` heatmap of each image; a missing one is a ``ValueError`` naming the file."""
    found = find_heatmap_files(heatmaps_dir, ids)
    wanted = f"_{class_name}"
    files = {
        identifier: [path for path in found[identifier] if image_id(path.name) == identifier + wanted]
        for identifier in ids
    }
    missing = [identifier for identifier in ids if not files[identifier]]
    if missing:
        shown = ", ".join(f"{identifier}{wanted}.*" for identifier in missing[:SHOWN_IDS])
        raise ValueError(
            f"{Path(heatmaps_dir)}: no heatmap of class {class_name!r} for {len(missing)} image(s): {shown}"
        )
    return files


def _check_lesion_position(position: Sequence[float]) -> tuple[float, float]:
    """``position`` as (row fraction, column fraction), each a number in [0, 1]."""
    values = tuple(float(value) for value in position)
    if len(values) != 2 or not all(math.isfinite(value) and 0.0 <= value <= 1.0 for value in values):
        raise ValueError(
            f"lesion_position must be (row fraction, column fraction) in [0, 1], got {tuple(position)!r}"
        )
    return values[0], values[1]


def _baseline_results(
    point_in_boxes: Callable[..., bool],
    compute_pointing_accuracy: Callable[..., float],
    compute_localization_ap: Callable[..., float],
    probabilities: np.ndarray,
    has_annotation: np.ndarray,
    ids: list[str],
    positive_boxes: Mapping[str, np.ndarray],
    sizes: Mapping[str, tuple[int, int] | None],
    tolerance: float,
    lesion_position: tuple[float, float] | None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Figures of each of :data:`POINTING_BASELINES` (or why it is missing) and their (N,) correct flags.

    ``point_in_boxes``, ``compute_pointing_accuracy`` and ``compute_localization_ap`` are the registered metric
    functions of those names; ``sizes`` holds the (H, W) of every positive, ``None`` where it is unknown.
    """
    positives = [ids[index] for index in np.flatnonzero(has_annotation)]
    unsized = [identifier for identifier in positives if sizes.get(identifier) is None]
    results: dict[str, Any] = {}
    flags: dict[str, np.ndarray] = {}
    for name in POINTING_BASELINES:
        if unsized:
            results[name] = {
                "missing": f"no image size for {len(unsized)} positive image(s) ({_shown(unsized)}): give image_sizes"
            }
            continue
        if name == "most_frequent_lesion_position" and lesion_position is None:
            results[name] = {
                "missing": "no training lesion position given (lesion_position: the most frequent lesion position "
                "of the training split)"
            }
            continue
        correct = np.zeros(len(ids), dtype=bool)
        for index in np.flatnonzero(has_annotation):
            size = sizes[ids[index]]
            if name == "image_centre":
                point = image_centre_point(size)
            else:
                point = lesion_position_point(lesion_position, size)
            correct[index] = point_in_boxes(point, positive_boxes[ids[index]], tolerance)
        results[name] = {
            "pointing_accuracy": compute_pointing_accuracy(correct, has_annotation),
            "localization_ap": compute_localization_ap(probabilities, correct, has_annotation),
            "num_correct_points": int(correct.sum()),
        }
        if name == "most_frequent_lesion_position":
            results[name]["position"] = list(lesion_position)
        flags[name] = correct
    return results, flags


def evaluate_pointing(
    truth_csv: str | Path,
    pred_csv: str | Path,
    heatmaps_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    tolerance: float = 16.0,
    image_sizes: Mapping[str, tuple[int, int]] | None = None,
    points_csv: str | Path | None = None,
    class_name: str | None = None,
    image_ids: Sequence[str] | None = None,
    lesion_position: Sequence[float] | None = None,
    *,
    metrics_file: bool = True,
) -> dict[str, Any]:
    """STL localization AP and pointing accuracy of heatmap maxima or points (see the module docstring).

    Args:
        truth_csv: CSV ``image,label,x,y,w,h`` of the truth lesion boxes; its images (with a box labelled
            ``class_name``, when given) are the positives.
        pred_csv: CSV ``image,prob`` or ``image,level,prob_0,prob_1`` (see :func:`read_positive_probabilities`)
            of every evaluated image, or with ``class_name`` a multi-label ``image,labels,<class>,...`` (see
            :func:`read_class_probabilities`); the evaluated images without a truth box are the negatives.
        heatmaps_dir: folder of positive-class heatmaps ``<image>.<ext>`` or ``<image>_<name>.<ext>`` (summed),
            one for every evaluated image; with ``class_name``, the ``<image>_<class_name>.<ext>`` map of every
            positive. Give this or ``points_csv``.
        out_dir: when given, write ``metrics.json`` and ``pointing_pr.png`` there.
        tolerance: enlargement of the truth boxes in pixels (16: half a global stride of 32).
        image_sizes: image id -> (H, W) of at least the positives; each map is resized bilinearly to its
            image. ``None``: the maps are in the original image geometry (and, with ``points_csv``, the
            baselines cannot be placed).
        points_csv: CSV ``image,label,x,y[,score]`` of the method's points (see :func:`read_point_table`);
            each positive's point is its highest-scoring one.
        class_name: score this class of a multi-label prediction (module docstring).
        image_ids: the evaluated images; default every image of ``pred_csv``. Each needs a prediction row.
        lesion_position: (row fraction, column fraction) of the training set's most frequent lesion position,
            for the ``most_frequent_lesion_position`` baseline; ``None`` reports that baseline as missing.
        metrics_file: with ``out_dir``, write ``metrics.json`` there too (``False``: the plots only, for a
            caller that writes one ``metrics.json`` of several tasks).

    Returns:
        ``num_images``, ``num_positive_images``, ``num_negative_images``, ``num_correct_points`` (positives
        pointed correctly), ``num_resized_heatmaps``, ``tolerance``, ``point_source`` (``heatmaps`` or
        ``points``), ``class_name``, ``localization_ap``, ``pointing_accuracy``, ``precision_recall_curve``
        (``thresholds``, ``precision``, ``recall``, see :func:`localization_precision_recall_curve`), ``points``
        (positive id -> [row, column] of its point in image pixels), ``positives_without_point``,
        ``missed_images`` (positives whose point is not in a box, or that have none) and ``baselines``
        (per name of :data:`POINTING_BASELINES`: ``pointing_accuracy``, ``localization_ap``,
        ``num_correct_points`` and, for the lesion position, ``position``; or ``missing``: why not).

    Raises:
        FileNotFoundError: when a CSV or the heatmap folder does not exist.
        ValueError: naming the file (and row or ids) for bad tables, a truth image without prediction or not
            evaluated, a missing heatmap or image size, a map smaller than its truth boxes need, no truth box
            of ``class_name``, not exactly one of ``heatmaps_dir`` and ``points_csv``, a bad tolerance or
            lesion position.
        ImportError: when the metrics plugin is not installed.
    """
    locate_activation_peak = metric_function("locate_activation_peak")
    point_in_boxes = metric_function("point_in_boxes")
    compute_pointing_accuracy = metric_function("compute_pointing_accuracy")
    compute_localization_ap = metric_function("compute_localization_ap")
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number of pixels >= 0, got {tolerance!r}")
    if (heatmaps_dir is None) == (points_csv is None):
        raise ValueError(
            "evaluate_pointing: give exactly one source of points: heatmaps_dir (each positive's map maximum) "
            "or points_csv (the method's points)"
        )
    position = None if lesion_position is None else _check_lesion_position(lesion_position)
    truth = read_box_table(truth_csv, "truth")
    positive_boxes = _positive_boxes(truth, class_name)
    if class_name is None:
        prediction = read_positive_probabilities(pred_csv)
    else:
        prediction = read_class_probabilities(pred_csv, class_name)
    ids, probabilities = _evaluated_images(prediction, image_ids)
    evaluated = set(ids)
    unevaluated = [identifier for identifier in positive_boxes if identifier not in evaluated]
    if unevaluated and image_ids is None:
        raise ValueError(
            f"{prediction.path}: no prediction for {len(unevaluated)} annotated image(s) of {truth.path}: "
            f"{_shown(unevaluated)}"
        )
    if unevaluated:
        raise ValueError(
            f"image_ids: {len(unevaluated)} annotated image(s) of {truth.path} are not among the evaluated images: "
            f"{_shown(unevaluated)}"
        )
    has_annotation = np.array([identifier in positive_boxes for identifier in ids])
    positives = [ids[index] for index in np.flatnonzero(has_annotation)]
    point_table = None if points_csv is None else read_point_table(points_csv)
    heatmap_files: dict[str, list[Path]] = {}
    if heatmaps_dir is not None:
        heatmap_files = (
            find_heatmap_files(heatmaps_dir, ids)
            if class_name is None
            else _class_heatmap_files(heatmaps_dir, positives, class_name)
        )
    correct = np.zeros(len(ids), dtype=bool)
    points: dict[str, list[int]] = {}
    sizes: dict[str, tuple[int, int] | None] = {}
    without_point: list[str] = []
    missed: list[str] = []
    resized = 0
    for index in terminal_progress(np.flatnonzero(has_annotation), f"pointing {class_name or ''}".strip()):
        identifier = ids[index]
        boxes = positive_boxes[identifier]
        if point_table is not None:
            sizes[identifier] = None if image_sizes is None else _known_size(identifier, image_sizes, truth.path)
            point = _top_point(point_table, identifier, class_name)
        else:
            paths = heatmap_files[identifier]
            heatmap = _positive_class_map(paths)
            size = _target_size(identifier, heatmap, paths[0], boxes, truth.path, image_sizes)
            sizes[identifier] = size
            resized += int(heatmap.shape != size)
            point = locate_activation_peak(heatmap, size)
        if point is None:
            without_point.append(identifier)
        else:
            correct[index] = point_in_boxes(point, boxes, tolerance)
            points[identifier] = list(point)
        if not correct[index]:
            missed.append(identifier)
    num_positives = len(positives)
    thresholds, precision, recall = localization_precision_recall_curve(probabilities, correct, num_positives)
    baselines, baseline_flags = _baseline_results(
        point_in_boxes,
        compute_pointing_accuracy,
        compute_localization_ap,
        probabilities,
        has_annotation,
        ids,
        positive_boxes,
        sizes,
        tolerance,
        position,
    )
    metrics: dict[str, Any] = {
        "num_images": len(ids),
        "num_positive_images": num_positives,
        "num_negative_images": len(ids) - num_positives,
        "num_correct_points": int(correct.sum()),
        "num_resized_heatmaps": resized,
        "tolerance": float(tolerance),
        "point_source": POINT_SOURCES[0] if point_table is None else POINT_SOURCES[1],
        "class_name": class_name,
        "localization_ap": compute_localization_ap(probabilities, correct, has_annotation),
        "pointing_accuracy": compute_pointing_accuracy(correct, has_annotation),
        "precision_recall_curve": {"thresholds": thresholds, "precision": precision, "recall": recall},
        "points": points,
        "positives_without_point": without_point,
        "missed_images": missed,
        "baselines": baselines,
    }
    if out_dir is not None:
        folder = Path(out_dir)
        if metrics_file:
            write_metrics_json(metrics, folder)
        curves = {f"{metrics['point_source']}, localization AP {metrics['localization_ap']:.3f}": (recall, precision)}
        for name, flags in baseline_flags.items():
            _, baseline_precision, baseline_recall = localization_precision_recall_curve(
                probabilities, flags, num_positives
            )
            label = f"{name.replace('_', ' ')}, localization AP {baselines[name]['localization_ap']:.3f}"
            curves[label] = (baseline_recall, baseline_precision)
        plot_precision_recall_curves(
            curves,
            folder / "pointing_pr.png",
            title=f"STL localization precision-recall (tolerance {tolerance:g} px)",
        )
    return metrics
