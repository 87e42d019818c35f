"""Evaluate predicted lesion boxes (and optionally heatmaps) against ground-truth lesion boxes.

Inputs are lesion-box CSVs ``image,label,x,y,w,h[,score]`` (see :mod:`monai_weakloc.evaluation.tables`),
matched by image id. The truth table defines the evaluated images; a truth image without a predicted box
hits nothing (a warning names it), predicted images without truth are ignored with a warning.

Metrics (from the ``weakloc_metrics`` plugin):

- Zoom-in-Net recall for box and recall for person over the IoM threshold grid 0.05, 0.10, ..., 1.00
  (at 0 every box would hit, so the grid starts at 0.05) and at ``iom_threshold``, using the top
  ``num_boxes`` predicted boxes of each image by score; with image sizes, the same for a random baseline
  (:func:`random_boxes_like`), averaged over ``random_draws`` independent draws: one draw of N boxes per
  image is a noisy estimate of what chance achieves (on 50 images its recall for box moves by a few
  hundredths from seed to seed), the mean over many draws is not;
- ChestX-ray14 box accuracy and average false positives per image at the IoBB and IoU thresholds of
  Wang et al. 2017, per lesion label (the label index is the sorted union of the labels of both tables);
- with a heatmap folder, MaxBoxAcc v1 and v2 of each image's map (or the sum of its per-class maps)
  against its truth boxes of every label.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from monai_weakloc.evaluation.map_files import map_files_by_id, read_heatmap
from monai_weakloc.evaluation.metric_functions import metric_function
from monai_weakloc.evaluation.results import write_metrics_json
from monai_weakloc.evaluation.tables import BoxTable, matched_ids, read_box_table
from monai_weakloc.report.plots import plot_iom_recall_curves
from monai_weakloc.terminal import terminal_progress

__all__ = ["random_boxes_like", "find_heatmap_files", "evaluate_boxes"]

BOX_OVERLAPS = ("iobb", "iou")
SHOWN_IDS = 5


def random_boxes_like(
    pred_boxes: Mapping[str, np.ndarray], image_sizes: Mapping[str, tuple[int, int]], seed: int = 0
) -> dict[str, np.ndarray]:
    """A random baseline: per image, boxes of the same sizes as the given ones, placed uniformly at random.

    Each box keeps its width and height (clipped to the image) and gets a top-left corner drawn uniformly
    from the positions that keep it inside the image. Images are drawn in sorted id order from one
    ``numpy.random.default_rng(seed)``, so the result depends only on the boxes, the sizes and the seed.

    Args:
        pred_boxes: image id -> (N, 4) ``x, y, w, h`` boxes (N may be 0).
        image_sizes: image id -> (H, W) of the image, for every id of ``pred_boxes``.
        seed: the random seed.

    Returns:
        image id -> (N, 4) float64 random boxes, in the order of ``pred_boxes``.

    Raises:
        ValueError: naming the image, when its size is missing or not positive, or its boxes are not (N, 4).
    """
    generator = np.random.default_rng(seed)
    placed: dict[str, np.ndarray] = {}
    for identifier in sorted(pred_boxes):
        boxes = np.asarray(pred_boxes[identifier], dtype=np.float64)
        if boxes.size == 0:
            boxes = np.zeros((0, 4))
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"random baseline: boxes of image {identifier!r} must be (N, 4), got {boxes.shape}")
        if identifier not in image_sizes:
            raise ValueError(f"random baseline: no image size for image {identifier!r}")
        height, width = (float(size) for size in image_sizes[identifier])
        if height <= 0 or width <= 0:
            raise ValueError(f"random baseline: image {identifier!r} has size {image_sizes[identifier]}, not positive")
        box_width = np.minimum(boxes[:, 2], width)
        box_height = np.minimum(boxes[:, 3], height)
        x = generator.uniform(0.0, 1.0, boxes.shape[0]) * (width - box_width)
        y = generator.uniform(0.0, 1.0, boxes.shape[0]) * (height - box_height)
        placed[identifier] = np.stack([x, y, box_width, box_height], axis=1)
    return {identifier: placed[identifier] for identifier in pred_boxes}


def _top_boxes(prediction: BoxTable, ids: list[str], num_boxes: int | None) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Per id, the (N, 4) boxes and labels kept: the top ``num_boxes`` by score (stable), all when None."""
    if num_boxes is not None and num_boxes < 1:
        raise ValueError(f"num_boxes must be at least 1, got {num_boxes}")
    if num_boxes is not None and prediction.scores is None:
        raise ValueError(f"{prediction.path}: keeping the top {num_boxes} boxes per image needs a score column")
    kept: dict[str, tuple[np.ndarray, list[str]]] = {}
    for identifier in ids:
        boxes = prediction.boxes.get(identifier, np.zeros((0, 4)))
        labels = prediction.labels.get(identifier, [])
        if num_boxes is not None and prediction.scores is not None and identifier in prediction.scores:
            order = np.argsort(-prediction.scores[identifier], kind="stable")[:num_boxes]
            boxes, labels = boxes[order], [labels[index] for index in order]
        kept[identifier] = (boxes, labels)
    return kept


def _labelled_rows(boxes: np.ndarray, labels: list[str], label_index: Mapping[str, int]) -> np.ndarray:
    """(N, 5) ``label index, x, y, w, h`` rows."""
    indices = np.array([label_index[label] for label in labels], dtype=np.float64).reshape(-1, 1)
    return np.concatenate([indices, boxes.reshape(-1, 4)], axis=1)


def _box_accuracy(
    truth: BoxTable, kept: Mapping[str, tuple[np.ndarray, list[str]]], ids: list[str]
) -> dict[str, Any]:
    """Accuracy and average false positives per label at the IoBB and IoU thresholds."""
    compute_box_accuracy = metric_function("compute_box_accuracy")
    truth_labels = {label for labels in truth.labels.values() for label in labels}
    predicted_labels = {label for _, labels in kept.values() for label in labels}
    if predicted_labels and not predicted_labels & truth_labels:
        warnings.warn(
            f"box accuracy: no predicted label ({', '.join(sorted(predicted_labels))}) is a truth label "
            f"({', '.join(sorted(truth_labels))}), so every predicted box is a false positive; "
            "IoM recall and MaxBoxAcc ignore labels",
            stacklevel=3,
        )
    label_names = sorted(truth_labels | predicted_labels)
    label_index = {label: index for index, label in enumerate(label_names)}
    predicted = [_labelled_rows(*kept[identifier], label_index) for identifier in ids]
    ground_truth = [
        _labelled_rows(truth.boxes[identifier], truth.labels[identifier], label_index) for identifier in ids
    ]
    results: dict[str, Any] = {"labels": label_names}
    for overlap in BOX_OVERLAPS:
        table = compute_box_accuracy(predicted, ground_truth, len(label_names), overlap)
        results[overlap] = {
            "thresholds": table.thresholds,
            "accuracy": dict(zip(label_names, table.accuracy)),
            "average_false_positives": dict(zip(label_names, table.average_false_positives)),
            "num_images": dict(zip(label_names, table.num_images)),
        }
    return results


def _owner(name: str, ids: set[str]) -> str | None:
    """The longest id of ``ids`` that ``name`` starts with followed by ``_`` (``10_left_grade1`` -> ``10_left``)."""
    parts = name.split("_")
    for end in range(len(parts) - 1, 0, -1):
        prefix = "_".join(parts[:end])
        if prefix in ids:
            return prefix
    return None


def find_heatmap_files(heatmaps_dir: str | Path, ids: list[str]) -> dict[str, list[Path]]:
    """The heatmap file(s) of each image: ``<image>.<ext>``, else every ``<image>_<name>.<ext>``.

    The bundles write one map per image and heatmap name (a class or grade) as
    ``heatmaps/<image>_<name>.png`` and ``.nii.gz``; of two formats of one map the most precise is read
    (see :func:`~monai_weakloc.evaluation.map_files.map_files_by_id`). A file ``<a>_<b>_<name>`` belongs to
    image ``<a>_<b>`` rather than ``<a>`` when both are evaluated.

    Args:
        heatmaps_dir: the heatmap folder.
        ids: the images to find maps for.

    Returns:
        image id -> its map files (its one map, or its per-name maps in sorted order).

    Raises:
        FileNotFoundError: when the folder does not exist.
        ValueError: naming the folder and the first images that have no map.
    """
    files = map_files_by_id(heatmaps_dir, "heatmap")
    wanted = set(ids)
    per_name: dict[str, list[Path]] = {}
    for name, path in files.items():
        owner = _owner(name, wanted)
        if owner is not None:
            per_name.setdefault(owner, []).append(path)
    found = {
        identifier: [files[identifier]] if identifier in files else per_name.get(identifier, []) for identifier in ids
    }
    missing = [identifier for identifier in ids if not found[identifier]]
    if missing:
        shown = ", ".join(f"{identifier}.* or {identifier}_<name>.*" for identifier in missing[:SHOWN_IDS])
        raise ValueError(f"{Path(heatmaps_dir)}: no heatmap for {len(missing)} image(s): {shown}")
    return found


def _image_heatmap(paths: list[Path], image_size: tuple[int, int] | None) -> np.ndarray:
    """(H, W) heatmap of one image: its one map, or the sum of its maps (the map the bundles' overlays show)."""
    maps = []
    for path in paths:
        heatmap = read_heatmap(path)
        if image_size is not None and heatmap.shape != tuple(image_size):
            raise ValueError(
                f"{path}: heatmap size {heatmap.shape} differs from the image size {tuple(image_size)}; "
                "write heatmaps in the original image geometry"
            )
        if maps and heatmap.shape != maps[0].shape:
            raise ValueError(f"{path}: heatmap size {heatmap.shape} differs from {paths[0].name}'s {maps[0].shape}")
        maps.append(heatmap)
    return np.sum(maps, axis=0)


def _max_box_accuracy(
    heatmap_files: Mapping[str, list[Path]],
    truth: BoxTable,
    ids: list[str],
    image_sizes: Mapping[str, tuple[int, int]] | None,
) -> dict[str, Any]:
    """MaxBoxAcc v1 and v2 with their per-delta values and best heatmap thresholds."""
    compute_box_accuracy_curves_by_version = metric_function("compute_box_accuracy_curves_by_version")
    heatmaps = [
        _image_heatmap(heatmap_files[identifier], None if image_sizes is None else image_sizes.get(identifier))
        for identifier in terminal_progress(ids, "heatmaps for MaxBoxAcc")
    ]
    ground_truth = [truth.boxes[identifier] for identifier in ids]
    results: dict[str, Any] = {}
    for version, curves in compute_box_accuracy_curves_by_version(heatmaps, ground_truth, (1, 2)).items():
        results[f"v{version}"] = {
            "value": curves.value,
            "iou_thresholds": curves.iou_thresholds,
            "max_box_accuracy": curves.max_box_accuracy,
            "best_cam_thresholds": curves.best_cam_thresholds,
        }
    return results


def evaluate_boxes(
    truth_csv: str | Path,
    pred_csv: str | Path,
    out_dir: str | Path | None = None,
    heatmaps_dir: str | Path | None = None,
    num_boxes: int | None = None,
    iom_threshold: float = 0.3,
    image_sizes: Mapping[str, tuple[int, int]] | None = None,
    random_seed: int = 0,
    random_draws: int = 100,
    *,
    metrics_file: bool = True,
) -> dict[str, Any]:
    """Localization metrics of predicted boxes (and heatmaps) against truth boxes.

    Args:
        truth_csv: CSV ``image,label,x,y,w,h`` of the ground-truth lesion boxes.
        pred_csv: CSV ``image,label,x,y,w,h[,score]`` of the predicted boxes.
        out_dir: when given, write ``metrics.json`` and ``iom_recall.png`` there.
        heatmaps_dir: folder of heatmaps ``<image>.<ext>`` or ``<image>_<name>.<ext>`` (PNG, TIFF, NIfTI,
            ``.npy``; see :func:`find_heatmap_files`) in the original image geometry, for MaxBoxAcc.
        num_boxes: keep the top ``num_boxes`` predicted boxes per image by score (needs a ``score``
            column); ``None`` keeps all. The kept boxes enter every box metric.
        iom_threshold: the IoM threshold of the reported single recall values, in (0, 1].
        image_sizes: image id -> (H, W), for the random baseline (and to check heatmap sizes).
        random_seed: seed of the random baseline; draw ``k`` uses seed ``random_seed + k``.
        random_draws: number of independent random draws the baseline's recalls are averaged over.
        metrics_file: with ``out_dir``, write ``metrics.json`` there too (``False``: the plots only, for a
            caller that writes one ``metrics.json`` of several tasks).

    Returns:
        ``num_images``, ``num_truth_boxes``, ``num_predicted_boxes`` (kept), ``num_boxes``, ``iom_threshold``,
        ``box_recall`` and ``person_recall`` at ``iom_threshold``, ``iom_recall_curve`` (``thresholds``,
        ``box``, ``person``), ``box_accuracy`` (``labels``, and per overlap ``iobb``/``iou``: ``thresholds``,
        per-label ``accuracy`` and ``average_false_positives`` lists and ``num_images``); with
        ``image_sizes`` ``random_baseline`` (``seed``, ``draws``, ``box_recall``, ``person_recall`` and the
        ``box`` and ``person`` curves, each the mean over the draws, and ``box_recall_std``, the standard
        deviation of one draw's recall for box at ``iom_threshold``); with ``heatmaps_dir``
        ``max_box_accuracy_v1``, ``max_box_accuracy_v2`` and ``max_box_accuracy`` (per version: ``value``,
        ``iou_thresholds``, ``max_box_accuracy``, ``best_cam_thresholds``).

    Raises:
        FileNotFoundError: when a CSV or the heatmap folder does not exist.
        ValueError: naming the file (and row or ids) for bad tables, no common image, a missing heatmap or
            image size, or bad options.
        ImportError: when the metrics plugin is not installed.
    """
    compute_iom_recall_curve = metric_function("compute_iom_recall_curve")
    compute_iom_recall = metric_function("compute_iom_recall")
    if not 0.0 < iom_threshold <= 1.0:
        raise ValueError(f"iom_threshold must lie in (0, 1], got {iom_threshold}")
    if isinstance(random_draws, bool) or not isinstance(random_draws, int) or random_draws < 1:
        raise ValueError(f"random_draws must be a positive int, got {random_draws!r}")
    truth = read_box_table(truth_csv, "truth")
    prediction = read_box_table(pred_csv, "prediction")
    ids = list(truth.boxes)
    with_predictions = matched_ids(ids, list(prediction.boxes), truth.path, prediction.path, require_every_truth=False)
    kept = _top_boxes(prediction, ids, num_boxes)
    predicted_boxes = [kept[identifier][0] for identifier in ids]
    truth_boxes = [truth.boxes[identifier] for identifier in ids]
    curve = compute_iom_recall_curve(predicted_boxes, truth_boxes)
    box_recall, person_recall = compute_iom_recall(predicted_boxes, truth_boxes, iom_threshold)
    metrics: dict[str, Any] = {
        "num_images": len(ids),
        "num_truth_boxes": int(sum(boxes.shape[0] for boxes in truth_boxes)),
        "num_predicted_boxes": int(sum(boxes.shape[0] for boxes in predicted_boxes)),
        "num_boxes": num_boxes,
        "iom_threshold": iom_threshold,
        "box_recall": box_recall,
        "person_recall": person_recall,
        "iom_recall_curve": {"thresholds": curve.thresholds, "box": curve.box_recall, "person": curve.person_recall},
        "box_accuracy": _box_accuracy(truth, kept, ids),
    }
    plotted = {"recall for box": curve.box_recall, "recall for person": curve.person_recall}
    baseline_labels: list[str] = []
    if image_sizes is not None:
        predicted_by_id = {identifier: kept[identifier][0] for identifier in with_predictions}
        baseline = _random_baseline(
            compute_iom_recall_curve,
            compute_iom_recall,
            predicted_by_id,
            truth_boxes,
            ids,
            image_sizes,
            iom_threshold,
            random_seed,
            random_draws,
        )
        metrics["random_baseline"] = baseline
        baseline_labels = ["random baseline, box", "random baseline, person"]
        plotted.update(dict(zip(baseline_labels, (baseline["box"], baseline["person"]))))
    if heatmaps_dir is not None:
        heatmap_files = find_heatmap_files(heatmaps_dir, ids)
        max_box_accuracy = _max_box_accuracy(heatmap_files, truth, ids, image_sizes)
        metrics["max_box_accuracy_v1"] = max_box_accuracy["v1"]["value"]
        metrics["max_box_accuracy_v2"] = max_box_accuracy["v2"]["value"]
        metrics["max_box_accuracy"] = max_box_accuracy
    if out_dir is not None:
        folder = Path(out_dir)
        if metrics_file:
            write_metrics_json(metrics, folder)
        title = f"Recall versus IoM ({'all' if num_boxes is None else f'top {num_boxes}'} boxes per image)"
        plot_iom_recall_curves(
            curve.thresholds, plotted, folder / "iom_recall.png", dashed=baseline_labels, title=title
        )
    return metrics


def _random_baseline(
    compute_iom_recall_curve: Callable[..., Any],
    compute_iom_recall: Callable[..., tuple[float, float]],
    predicted_by_id: Mapping[str, np.ndarray],
    truth_boxes: list[np.ndarray],
    ids: list[str],
    image_sizes: Mapping[str, tuple[int, int]],
    iom_threshold: float,
    seed: int,
    draws: int,
) -> dict[str, Any]:
    """Recall curves of random boxes of the predicted sizes, averaged over ``draws`` draws (seeds ``seed + k``).

    ``compute_iom_recall_curve`` and ``compute_iom_recall`` are the registered metric functions of those names.
    """
    box_curves, person_curves, box_recalls, person_recalls = [], [], [], []
    for draw in range(draws):
        random_boxes = random_boxes_like(predicted_by_id, image_sizes, seed + draw)
        baseline_boxes = [random_boxes.get(identifier, np.zeros((0, 4))) for identifier in ids]
        curve = compute_iom_recall_curve(baseline_boxes, truth_boxes)
        box_recall, person_recall = compute_iom_recall(baseline_boxes, truth_boxes, iom_threshold)
        box_curves.append(curve.box_recall)
        person_curves.append(curve.person_recall)
        box_recalls.append(box_recall)
        person_recalls.append(person_recall)
    return {
        "seed": seed,
        "draws": draws,
        "box_recall": float(np.mean(box_recalls)),
        "box_recall_std": float(np.std(box_recalls)),
        "person_recall": float(np.mean(person_recalls)),
        "box": np.mean(box_curves, axis=0).tolist(),
        "person": np.mean(person_curves, axis=0).tolist(),
    }
