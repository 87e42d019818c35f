"""ChestX-ray14 box localization: accuracy and average false positives per image at IoBB or IoU thresholds.

The protocol of Wang et al. 2017 (ChestX-ray8), per disease class c, over the images that have at least
one ground-truth box of class c:

- a predicted box of class c is *correct* at threshold T when its overlap with some ground-truth box of
  class c in the same image is >= T, otherwise it is a *false positive*;
- *accuracy*: share of those images with at least one correct box of class c;
- *average false positives (AFP)*: false-positive boxes of class c in those images / number of images.

Predictions of class c in images without a ground-truth box of class c are not counted (the published
evaluation runs on the images of the box list only). The overlap is IoBB, |pred ∩ GT| / |pred|, which the
paper defines as the "intersection over the detected B-Box area ratio", or IoU. The paper speaks of a
ratio *above* T; here a ratio equal to T counts as correct, the two differing only at exact ties.
MONAI has no box-accuracy metric with IoBB, hence this module.

Boxes come with their class, one row per box: ``label, x, y, w, h`` (label an integer class index; boxes
as in :mod:`weakloc_metrics.boxes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric
from monai.utils import convert_to_numpy

from weakloc_metrics.boxes import OVERLAPS, as_xywh_boxes

__all__ = [
    "IOBB_THRESHOLDS",
    "IOU_THRESHOLDS",
    "BoxAccuracyTable",
    "compute_box_accuracy",
    "BoxAccuracyMetric",
]

IOBB_THRESHOLDS: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)
"""T(IoBB) of the ChestX-ray8 paper's table."""
IOU_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
"""T(IoU) of the ChestX-ray8 paper's table."""
BOX_OVERLAPS = ("iobb", "iou")


@dataclass(frozen=True)
class BoxAccuracyTable:
    """Per-class localization results.

    Attributes:
        thresholds: (T,) increasing overlap thresholds.
        accuracy: (K, T) accuracy per class and threshold; NaN for a class without images.
        average_false_positives: (K, T) false positives per image; NaN for a class without images.
        num_images: (K,) images with a ground-truth box of each class.
    """

    thresholds: np.ndarray
    accuracy: np.ndarray
    average_false_positives: np.ndarray
    num_images: np.ndarray


def _check_setup(num_classes: int, overlap: str, thresholds: Any | None) -> np.ndarray:
    """Validate the settings and return the sorted threshold grid."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if overlap not in BOX_OVERLAPS:
        raise ValueError(f"overlap must be one of {BOX_OVERLAPS}, got {overlap!r}")
    if thresholds is None:
        thresholds = IOBB_THRESHOLDS if overlap == "iobb" else IOU_THRESHOLDS
    grid = np.unique(np.asarray(thresholds, dtype=np.float64).reshape(-1))
    if grid.size == 0 or grid[0] <= 0.0 or grid[-1] > 1.0:
        raise ValueError(f"overlap thresholds must be non-empty and lie in (0, 1], got {grid.tolist()}")
    return grid


def _labelled_boxes(rows: Any, num_classes: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Split (N, 5) ``label, x, y, w, h`` rows into (N,) int64 labels and (N, 4) checked boxes."""
    array = convert_to_numpy(rows, wrap_sequence=True).astype(np.float64)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 4))
    if array.ndim != 2 or array.shape[1] != 5:
        raise ValueError(f"{where}: expected an (N, 5) array of label, x, y, w, h, got shape {tuple(array.shape)}")
    labels = array[:, 0]
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes) | (np.round(labels) != labels))
    if bad.size:
        row = int(bad[0])
        raise ValueError(f"{where}: row {row} has label {labels[row]}, not a class index in 0..{num_classes - 1}")
    return labels.astype(np.int64), as_xywh_boxes(array[:, 1:], where)


def _image_counts(
    predicted: Any, ground_truth: Any, num_classes: int, overlap: str, thresholds: np.ndarray, image: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's contribution.

    Returns:
        (K,) bool: the image has a ground-truth box of the class; (K, T) bool: a correct box at the
        threshold; (K, T) int64: false-positive boxes at the threshold.
    """
    predicted_labels, predicted_boxes = _labelled_boxes(predicted, num_classes, f"predicted boxes of {image}")
    truth_labels, truth_boxes = _labelled_boxes(ground_truth, num_classes, f"ground-truth boxes of {image}")
    counted = np.zeros(num_classes, dtype=bool)
    correct = np.zeros((num_classes, thresholds.size), dtype=bool)
    false_positives = np.zeros((num_classes, thresholds.size), dtype=np.int64)
    for label in np.unique(truth_labels):
        counted[label] = True
        candidates = predicted_boxes[predicted_labels == label]
        if candidates.shape[0] == 0:
            continue
        best = OVERLAPS[overlap](candidates, truth_boxes[truth_labels == label]).max(axis=1)
        hits = best[None, :] >= thresholds[:, None]
        correct[label] = hits.any(axis=1)
        false_positives[label] = (~hits).sum(axis=1)
    return counted, correct, false_positives


def _table(
    counted: np.ndarray, correct: np.ndarray, false_positives: np.ndarray, thresholds: np.ndarray
) -> BoxAccuracyTable:
    """Reduce per-image counts, counted (I, K), correct (I, K, T), false_positives (I, K, T)."""
    num_images = counted.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = correct.sum(axis=0) / num_images[:, None]
        average_false_positives = false_positives.sum(axis=0) / num_images[:, None]
    return BoxAccuracyTable(thresholds, accuracy, average_false_positives, num_images)


def compute_box_accuracy(
    predicted_boxes: Sequence[Any],
    ground_truth_boxes: Sequence[Any],
    num_classes: int,
    overlap: str = "iobb",
    thresholds: Any | None = None,
) -> BoxAccuracyTable:
    """Per-class accuracy and average false positives at each overlap threshold.

    Args:
        predicted_boxes: per image, an (N_i, 5) array/tensor of ``label, x, y, w, h`` rows (N_i may be 0).
        ground_truth_boxes: per image, an (M_i, 5) array/tensor of ``label, x, y, w, h`` rows (M_i may be 0).
        num_classes: number of classes K.
        overlap: ``"iobb"`` (|pred ∩ GT| / |pred|) or ``"iou"``.
        thresholds: overlap thresholds in (0, 1]; default :data:`IOBB_THRESHOLDS` or :data:`IOU_THRESHOLDS`.

    Returns:
        the per-class table.
    """
    grid = _check_setup(num_classes, overlap, thresholds)
    if len(predicted_boxes) != len(ground_truth_boxes):
        raise ValueError(
            f"predicted_boxes covers {len(predicted_boxes)} images but ground_truth_boxes {len(ground_truth_boxes)}"
        )
    counts = [
        _image_counts(p, g, num_classes, overlap, grid, f"image {i}")
        for i, (p, g) in enumerate(zip(predicted_boxes, ground_truth_boxes))
    ]
    shape = (len(counts), num_classes)
    return _table(
        np.array([c[0] for c in counts]).reshape(shape),
        np.array([c[1] for c in counts]).reshape(*shape, grid.size),
        np.array([c[2] for c in counts]).reshape(*shape, grid.size),
        grid,
    )


class BoxAccuracyMetric(CumulativeIterationMetric):
    """ChestX-ray14 box accuracy accumulated over iterations; see :func:`compute_box_accuracy`.

    Call it with ``y_pred`` the predicted and ``y`` the ground-truth boxes of a batch: lists of (N_i, 5)
    and (M_i, 5) tensors of ``label, x, y, w, h`` rows (one per image), or batch-first (B, N, 5) /
    (B, M, 5) tensors. Each image is reduced at once to fixed-size per-class counts, so the buffers
    all-gather under DDP.

    Args:
        num_classes: number of classes K.
        overlap: ``"iobb"`` or ``"iou"``.
        thresholds: the grid of :meth:`aggregate_table`; ``threshold`` is added to it.
        threshold: the threshold :meth:`aggregate` reports.
    """

    def __init__(
        self, num_classes: int, overlap: str = "iobb", thresholds: Any | None = None, threshold: float = 0.5
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.overlap = overlap
        self.threshold = float(_check_setup(num_classes, overlap, [threshold])[0])
        self.thresholds = np.union1d(_check_setup(num_classes, overlap, thresholds), [self.threshold])

    def _compute_tensor(  # type: ignore[override]
        self, y_pred: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-image counts of a batch.

        Args:
            y_pred: (B, N, 5) predicted rows.
            y: (B, M, 5) ground-truth rows.

        Returns:
            (B, K) images counted (0/1), (B, K, T) correct (0/1), (B, K, T) false positives, all int64.
        """
        if y is None:
            raise ValueError("BoxAccuracyMetric needs the ground-truth boxes y")
        if y_pred.shape[0] != y.shape[0]:
            raise ValueError(f"y_pred covers {y_pred.shape[0]} images but y covers {y.shape[0]}")
        counts = [
            _image_counts(p, g, self.num_classes, self.overlap, self.thresholds, f"batch image {i}")
            for i, (p, g) in enumerate(zip(y_pred, y))
        ]
        # int64 throughout: all-gather backends do not all support bool tensors
        counted, correct, false_positives = (np.stack([c[part] for c in counts]).astype(np.int64) for part in range(3))
        return torch.as_tensor(counted), torch.as_tensor(correct), torch.as_tensor(false_positives)

    def aggregate_table(self) -> BoxAccuracyTable:
        """The per-class table over every image seen since the last ``reset()``."""
        buffers = self.get_buffer()
        if buffers is None:
            raise ValueError("BoxAccuracyMetric has seen no images; call it on a batch before aggregate()")
        counted, correct, false_positives = (b.numpy() for b in buffers)
        return _table(counted, correct, false_positives, self.thresholds)

    def aggregate(self) -> float:  # type: ignore[override]
        """Mean accuracy at ``threshold`` over the classes that have images (NaN if none has)."""
        table = self.aggregate_table()
        accuracy = table.accuracy[:, np.flatnonzero(self.thresholds == self.threshold)[0]]
        defined = accuracy[table.num_images > 0]
        return float(defined.mean()) if defined.size else float("nan")
