"""Zoom-in-Net recall for box and recall for person versus the IoM threshold.

For N boxes sampled per image (Zoom-in-Net's attention regions) and the ground-truth lesion boxes:

- a ground-truth box is *hit* at threshold t when at least one sampled box of its image has
  IoM = |A ∩ B| / min(|A|, |B|) >= t with it;
- *recall for box*: hit ground-truth boxes / all ground-truth boxes;
- *recall for person*: images with at least one hit ground-truth box / images with at least one
  ground-truth box. Images without ground-truth boxes count for neither recall; an image without sampled
  boxes hits nothing.

The paper reads 0.76 (box) and 0.83 (person) at t = 0.3 with N = 4. MONAI has no IoM metric, hence this
module. Boxes are ``x, y, w, h`` (see :mod:`weakloc_metrics.boxes`); thresholds lie in (0, 1], since at
t = 0 every box would hit.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric

from weakloc_metrics.boxes import as_xywh_boxes, xywh_iom

__all__ = [
    "DEFAULT_IOM_THRESHOLDS",
    "IoMRecallCurve",
    "compute_iom_recall_curve",
    "compute_iom_recall",
    "IoMRecallMetric",
]

DEFAULT_IOM_THRESHOLDS: np.ndarray = np.round(np.arange(1, 21) * 0.05, 2)
"""The default curve grid: 0.05, 0.10, ..., 1.00."""

RECALLS = ("box", "person")


@dataclass(frozen=True)
class IoMRecallCurve:
    """Recall curves over an IoM threshold grid.

    Attributes:
        thresholds: (T,) increasing IoM thresholds.
        box_recall: (T,) recall for box at each threshold.
        person_recall: (T,) recall for person at each threshold.
    """

    thresholds: np.ndarray
    box_recall: np.ndarray
    person_recall: np.ndarray


def _check_thresholds(thresholds: Any) -> np.ndarray:
    grid = np.unique(np.asarray(thresholds, dtype=np.float64).reshape(-1))
    if grid.size == 0 or grid[0] <= 0.0 or grid[-1] > 1.0:
        raise ValueError(f"IoM thresholds must be non-empty and lie in (0, 1], got {np.asarray(thresholds).tolist()}")
    return grid


def _image_hits(predicted: Any, ground_truth: Any, thresholds: np.ndarray, image: str) -> tuple[np.ndarray, int]:
    """Hit ground-truth boxes of one image at each threshold.

    Args:
        predicted: (N, 4) sampled boxes (N may be 0).
        ground_truth: (M, 4) ground-truth boxes (M may be 0).
        thresholds: (T,) checked thresholds.
        image: the image's name in error messages.

    Returns:
        (T,) int64 number of hit ground-truth boxes, and M.
    """
    sampled = as_xywh_boxes(predicted, f"sampled boxes of {image}")
    lesions = as_xywh_boxes(ground_truth, f"ground-truth boxes of {image}")
    if lesions.shape[0] == 0 or sampled.shape[0] == 0:
        return np.zeros(thresholds.size, dtype=np.int64), lesions.shape[0]
    best_iom = xywh_iom(sampled, lesions).max(axis=0)
    return (best_iom[None, :] >= thresholds[:, None]).sum(axis=1).astype(np.int64), lesions.shape[0]


def _recall_curves(hits: np.ndarray, lesion_counts: np.ndarray, thresholds: np.ndarray) -> IoMRecallCurve:
    """Curves from per-image counts: hits (I, T), lesion_counts (I,)."""
    total_lesions = lesion_counts.sum()
    persons = lesion_counts > 0
    if total_lesions == 0:
        warnings.warn("IoM recall is undefined: no image has a ground-truth box; returning NaN", stacklevel=3)
        nan = np.full(thresholds.size, np.nan)
        return IoMRecallCurve(thresholds=thresholds, box_recall=nan, person_recall=nan.copy())
    return IoMRecallCurve(
        thresholds=thresholds,
        box_recall=hits.sum(axis=0) / total_lesions,
        person_recall=(hits[persons] > 0).sum(axis=0) / persons.sum(),
    )


def compute_iom_recall_curve(
    predicted_boxes: Sequence[Any], ground_truth_boxes: Sequence[Any], thresholds: Any = DEFAULT_IOM_THRESHOLDS
) -> IoMRecallCurve:
    """Recall for box and recall for person over a grid of IoM thresholds.

    Args:
        predicted_boxes: per image, an (N_i, 4) array/tensor of sampled ``x, y, w, h`` boxes (N_i may be 0).
        ground_truth_boxes: per image, an (M_i, 4) array/tensor of lesion boxes (M_i may be 0).
        thresholds: IoM thresholds in (0, 1]; sorted and de-duplicated.

    Returns:
        the curves; NaN throughout, with a warning, when no image has a ground-truth box.
    """
    if len(predicted_boxes) != len(ground_truth_boxes):
        raise ValueError(
            f"predicted_boxes covers {len(predicted_boxes)} images but ground_truth_boxes {len(ground_truth_boxes)}"
        )
    grid = _check_thresholds(thresholds)
    counts = [
        _image_hits(p, g, grid, f"image {i}") for i, (p, g) in enumerate(zip(predicted_boxes, ground_truth_boxes))
    ]
    hits = np.array([c[0] for c in counts]).reshape(len(counts), grid.size)
    lesion_counts = np.array([c[1] for c in counts], dtype=np.int64)
    return _recall_curves(hits, lesion_counts, grid)


def compute_iom_recall(
    predicted_boxes: Sequence[Any], ground_truth_boxes: Sequence[Any], threshold: float = 0.3
) -> tuple[float, float]:
    """Recall for box and recall for person at one IoM threshold; see :func:`compute_iom_recall_curve`.

    Returns:
        (recall for box, recall for person).
    """
    curve = compute_iom_recall_curve(predicted_boxes, ground_truth_boxes, [threshold])
    return float(curve.box_recall[0]), float(curve.person_recall[0])


class IoMRecallMetric(CumulativeIterationMetric):
    """Zoom-in-Net recall accumulated over iterations.

    Call it with ``y_pred`` the sampled boxes and ``y`` the ground-truth boxes of a batch: lists of (N_i, 4)
    and (M_i, 4) tensors (one per image, any count including 0), or batch-first (B, N, 4) / (B, M, 4)
    tensors. Each image is reduced at once to its hit counts on the threshold grid, so the buffers hold
    fixed-size rows and all-gather under DDP.

    Args:
        threshold: the IoM threshold :meth:`aggregate` reports.
        recall: ``"box"`` or ``"person"``, the recall :meth:`aggregate` reports.
        thresholds: the grid of :meth:`aggregate_curve`; ``threshold`` is added to it.
    """

    def __init__(self, threshold: float = 0.3, recall: str = "box", thresholds: Any = DEFAULT_IOM_THRESHOLDS) -> None:
        super().__init__()
        if recall not in RECALLS:
            raise ValueError(f"recall must be one of {RECALLS}, got {recall!r}")
        self.threshold = float(_check_thresholds([threshold])[0])
        self.recall = recall
        self.thresholds = np.union1d(_check_thresholds(thresholds), [self.threshold])

    def _compute_tensor(  # type: ignore[override]
        self, y_pred: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image counts of a batch.

        Args:
            y_pred: (B, N, 4) sampled boxes.
            y: (B, M, 4) ground-truth boxes.

        Returns:
            (B, T) hit ground-truth boxes per threshold and (B,) ground-truth box counts, int64.
        """
        if y is None:
            raise ValueError("IoMRecallMetric needs the ground-truth boxes y")
        if y_pred.shape[0] != y.shape[0]:
            raise ValueError(f"y_pred covers {y_pred.shape[0]} images but y covers {y.shape[0]}")
        counts = [_image_hits(p, g, self.thresholds, f"batch image {i}") for i, (p, g) in enumerate(zip(y_pred, y))]
        hits = torch.as_tensor(np.array([c[0] for c in counts]).reshape(len(counts), self.thresholds.size))
        lesion_counts = torch.as_tensor([c[1] for c in counts], dtype=torch.int64)
        return hits, lesion_counts

    def aggregate_curve(self) -> IoMRecallCurve:
        """Both recall curves over every image seen since the last ``reset()``."""
        buffers = self.get_buffer()
        if buffers is None:
            raise ValueError("IoMRecallMetric has seen no images; call it on a batch before aggregate()")
        hits, lesion_counts = buffers
        return _recall_curves(hits.numpy(), lesion_counts.numpy(), self.thresholds)

    def aggregate(self) -> float:  # type: ignore[override]
        """The chosen recall at ``threshold`` over every image seen since the last ``reset()``."""
        curve = self.aggregate_curve()
        values = curve.box_recall if self.recall == "box" else curve.person_recall
        return float(values[np.flatnonzero(self.thresholds == self.threshold)[0]])
