"""Pairwise overlap ratios of ``x, y, w, h`` boxes: IoU, IoM (Zoom-in-Net) and IoBB (ChestX-ray14).

Boxes follow the toolkit's convention (``monai_weakloc.data.records``): ``x, y`` is the top-left corner in
pixels, ``w, h`` the size, the box covers ``[x, x + w) x [y, y + h)``; areas are ``w * h``. For integer
boxes this equals counting the pixels of the inclusive corners ``x .. x + w - 1``.

``monai.data.box_utils`` computes IoU only, in float32 with an epsilon added to the union, so a ratio
that is exactly a threshold (0.5) can fall just below it; it has no public intersection to build IoM and
IoBB on. Hence one float64 intersection here, shared by the three ratios. The corner conversion is
MONAI's ``convert_box_mode``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from monai.data.box_utils import convert_box_mode
from monai.utils import convert_to_numpy

__all__ = ["as_xywh_boxes", "xywh_intersection", "xywh_iou", "xywh_iom", "xywh_iobb", "OVERLAPS"]


def as_xywh_boxes(boxes: Any, where: str) -> np.ndarray:
    """Check boxes and return them as a float64 array.

    Args:
        boxes: (N, 4) ``x, y, w, h``; an empty array or tensor (any shape with 0 elements) means no box.
        where: what the boxes are, for error messages (e.g. ``"ground-truth boxes of image 3"``).

    Returns:
        (N, 4) float64 boxes.

    Raises:
        ValueError: on a shape other than (N, 4), a NaN/infinite value, or a box with ``w <= 0`` or
            ``h <= 0`` (zero-area boxes would make IoM and IoBB undefined); the message names the row.
    """
    array = convert_to_numpy(boxes, wrap_sequence=True).astype(np.float64)
    if array.size == 0:
        return np.zeros((0, 4))
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"{where}: expected an (N, 4) array of x, y, w, h, got shape {tuple(array.shape)}")
    not_finite = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if not_finite.size:
        row = int(not_finite[0])
        raise ValueError(f"{where}: row {row} {array[row].tolist()} holds a NaN or infinite value")
    empty = np.flatnonzero((array[:, 2] <= 0) | (array[:, 3] <= 0))
    if empty.size:
        row = int(empty[0])
        raise ValueError(f"{where}: row {row} {array[row].tolist()} has zero or negative width/height")
    return array


def xywh_intersection(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection areas of every pair.

    Args:
        boxes_a: (N, 4) checked ``x, y, w, h`` boxes (see :func:`as_xywh_boxes`).
        boxes_b: (M, 4) checked boxes.

    Returns:
        (N, M) float64 areas.
    """
    corners_a = convert_box_mode(boxes_a, src_mode="xywh", dst_mode="xyxy")
    corners_b = convert_box_mode(boxes_b, src_mode="xywh", dst_mode="xyxy")
    top_left = np.maximum(corners_a[:, None, :2], corners_b[None, :, :2])
    bottom_right = np.minimum(corners_a[:, None, 2:], corners_b[None, :, 2:])
    return np.prod(np.clip(bottom_right - top_left, 0.0, None), axis=-1)


def _areas(boxes: np.ndarray) -> np.ndarray:
    return boxes[:, 2] * boxes[:, 3]


def xywh_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair: (N, 4), (M, 4) checked boxes -> (N, M)."""
    intersection = xywh_intersection(boxes_a, boxes_b)
    return intersection / (_areas(boxes_a)[:, None] + _areas(boxes_b)[None, :] - intersection)


def xywh_iom(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over the smaller area, |A ∩ B| / min(|A|, |B|) (Zoom-in-Net): (N, 4), (M, 4) -> (N, M)."""
    intersection = xywh_intersection(boxes_a, boxes_b)
    return intersection / np.minimum(_areas(boxes_a)[:, None], _areas(boxes_b)[None, :])


def xywh_iobb(predicted: np.ndarray, ground_truth: np.ndarray) -> np.ndarray:
    """Intersection over the predicted box's area, |P ∩ G| / |P| (IoBB of ChestX-ray8/14).

    Wang et al. 2017 define IoBB as the "intersection over the detected B-Box area ratio", likening it to
    the area of precision or purity: the denominator is the detected (predicted) box, not the ground truth.

    Args:
        predicted: (N, 4) checked predicted boxes.
        ground_truth: (M, 4) checked ground-truth boxes.

    Returns:
        (N, M) float64 ratios.
    """
    return xywh_intersection(predicted, ground_truth) / _areas(predicted)[:, None]


OVERLAPS = {"iou": xywh_iou, "iom": xywh_iom, "iobb": xywh_iobb}
"""Overlap ratios by name; each maps (N, 4) predicted and (M, 4) ground-truth boxes to (N, M) ratios."""
