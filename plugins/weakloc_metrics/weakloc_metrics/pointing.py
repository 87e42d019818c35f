"""Pointing metrics of activation maps: STL localization AP and pointing-game accuracy.

Self-transfer learning (Hwang & Kim 2016) scores localization on the positive class only:

1. the positive-class activation map (h, w) is upsampled bilinearly to the image size (H, W)
   (``torch.nn.functional.interpolate``, ``align_corners=False``) and its arg-max pixel (the first in
   row-major order on ties) is the image's *point*;
2. the point is *correct* when it falls inside a ground-truth annotation enlarged by ``tolerance`` pixels
   (16 px, half the network's global stride of 32). Pixel (r, c) is the unit square whose centre is
   (c + 0.5, r + 0.5); a box ``(x, y, w, h)`` spans [x, x + w] x [y, y + h] and, enlarged, [x - t, x + w + t]
   x [y - t, y + h + t]; the point is inside when its centre is (closed bounds). A mask is enlarged by the
   (2t + 1) x (2t + 1) square: the point is inside when a mask pixel lies within ``floor(t)`` rows and
   columns. For integer boxes and tolerances both rules agree with each other;
3. images with an annotation are the positives; the others are negatives and their point is never correct.

**Localization AP** (the exact definition implemented). Rank the N images by positive-class probability
s_i. An image is a true positive when it is a positive *and* its point is correct; every other image
(a negative, or a positive with a wrong point) is a false positive. At each distinct threshold t, over the
images with s_i >= t::

    precision(t) = TP(t) / (TP(t) + FP(t))        recall(t) = TP(t) / number of positives
    AP = sum over thresholds, descending, of (recall(t) - recall(previous t)) * precision(t)

the step-wise (non-interpolated) area of ``sklearn.metrics.average_precision_score``. A positive with a
wrong point is never recalled, so recall may stop below 1. Computed as
``average_precision_score(true_positive, s) * (number of true positives) / (number of positives)``: sklearn
divides recall by its own positives (the true positives), the factor rescales it to all positives. Both
coincide when every positive is correctly localized. AP is 0 when no point is correct and nan (with a
warning) when there is no positive image.

**Pointing accuracy**: the share of positive images whose point is correct (the pointing game).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import NdarrayOrTensor
from monai.metrics import CumulativeIterationMetric
from monai.utils import convert_to_numpy
from sklearn.metrics import average_precision_score

__all__ = [
    "POINTING_METRIC_NAMES",
    "PointingLocalizationResult",
    "locate_activation_peak",
    "point_in_boxes",
    "point_in_mask",
    "compute_localization_ap",
    "compute_pointing_accuracy",
    "compute_pointing_localization",
    "PointingLocalizationMetric",
]

POINTING_METRIC_NAMES: tuple[str, ...] = ("localization_ap", "pointing_accuracy")
"""Values of :class:`PointingLocalizationResult` that :class:`PointingLocalizationMetric` can report."""


@dataclass(frozen=True)
class PointingLocalizationResult:
    """Pointing results of N images.

    Attributes:
        localization_ap: STL localization AP (see the module docstring).
        pointing_accuracy: share of positive images whose point is correct.
        points: (N, 2) int64 (row, column) of each image's point, in image pixels.
        correct: (N,) bool, point correct (always False for images without an annotation).
        has_annotation: (N,) bool, image is a positive.
        tolerance: the tolerance in pixels.
    """

    localization_ap: float
    pointing_accuracy: float
    points: np.ndarray
    correct: np.ndarray
    has_annotation: np.ndarray
    tolerance: float


def _check_tolerance(tolerance: float) -> None:
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number of pixels >= 0, got {tolerance!r}.")


def locate_activation_peak(activation_map: NdarrayOrTensor, image_size: Sequence[int]) -> tuple[int, int]:
    """Arg-max pixel of an activation map upsampled bilinearly to the image size.

    Args:
        activation_map: (h, w) positive-class activation map.
        image_size: (H, W) of the image.

    Returns:
        (row, column) of the maximum in image pixels, the first in row-major order on ties.

    Raises:
        ValueError: when the map is not 2-D or not finite, or the size is not two positive integers.
    """
    activation = torch.as_tensor(activation_map).detach()
    if activation.ndim != 2:
        raise ValueError(f"activation_map must be (h, w), got shape {tuple(activation.shape)}.")
    if not bool(torch.all(torch.isfinite(activation))):
        raise ValueError("activation_map holds NaN or infinite values.")
    size = tuple(int(s) for s in image_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"image_size must be (H, W) with positive sizes, got {tuple(image_size)!r}.")
    upsampled = F.interpolate(activation[None, None].float(), size=size, mode="bilinear", align_corners=False)
    flat_index = int(torch.argmax(upsampled.reshape(-1)))
    return flat_index // size[1], flat_index % size[1]


def point_in_boxes(point: Sequence[int], boxes: NdarrayOrTensor, tolerance: float = 16.0) -> bool:
    """Whether a pixel lies in any box enlarged by ``tolerance`` on every side.

    Args:
        point: (row, column) of the pixel.
        boxes: (K, 4) boxes ``(x, y, w, h)`` in pixels, x along columns; K may be 0.
        tolerance: enlargement in pixels.

    Returns:
        True when the pixel centre lies in one of the enlarged boxes (closed bounds).

    Raises:
        ValueError: when the boxes are not (K, 4) or have a negative size.
    """
    _check_tolerance(tolerance)
    box_array = convert_to_numpy(boxes).astype(np.float64)
    if box_array.size == 0:
        box_array = box_array.reshape(0, 4)
    if box_array.ndim != 2 or box_array.shape[1] != 4:
        raise ValueError(f"boxes must be (K, 4) as (x, y, w, h), got shape {box_array.shape}.")
    if np.any(box_array[:, 2:] < 0):
        raise ValueError("boxes must have non-negative width and height.")
    centre_y, centre_x = point[0] + 0.5, point[1] + 0.5
    x, y, w, h = box_array.T
    inside = (
        (centre_x >= x - tolerance)
        & (centre_x <= x + w + tolerance)
        & (centre_y >= y - tolerance)
        & (centre_y <= y + h + tolerance)
    )
    return bool(np.any(inside))


def point_in_mask(point: Sequence[int], mask: NdarrayOrTensor, tolerance: float = 16.0) -> bool:
    """Whether a pixel lies in a mask dilated by the (2t + 1) x (2t + 1) square, t = floor(tolerance).

    Args:
        point: (row, column) of the pixel.
        mask: (H, W) annotation mask, non-zero inside.
        tolerance: enlargement in pixels.

    Returns:
        True when a mask pixel lies within t rows and t columns of the point.

    Raises:
        ValueError: when the mask is not 2-D.
    """
    _check_tolerance(tolerance)
    mask_array = convert_to_numpy(mask)
    if mask_array.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask_array.shape}.")
    reach = int(math.floor(tolerance))
    row, col = int(point[0]), int(point[1])
    window = mask_array[max(row - reach, 0) : row + reach + 1, max(col - reach, 0) : col + reach + 1]
    return bool(np.any(window != 0))


def _ranking_inputs(
    positive_probs: NdarrayOrTensor, correct: NdarrayOrTensor, has_annotation: NdarrayOrTensor
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    probs = convert_to_numpy(positive_probs).astype(np.float64).ravel()
    correct_array = convert_to_numpy(correct).astype(bool).ravel()
    positive = convert_to_numpy(has_annotation).astype(bool).ravel()
    if not probs.size == correct_array.size == positive.size:
        raise ValueError(
            f"positive_probs ({probs.size}), correct ({correct_array.size}) and has_annotation ({positive.size}) "
            "must have one value per image."
        )
    if not np.all(np.isfinite(probs)):
        raise ValueError(f"positive_probs must be finite; image {int(np.flatnonzero(~np.isfinite(probs))[0])} is not.")
    return probs, correct_array & positive, positive


def compute_localization_ap(
    positive_probs: NdarrayOrTensor, correct: NdarrayOrTensor, has_annotation: NdarrayOrTensor
) -> float:
    """STL localization AP (see the module docstring for the exact definition).

    Args:
        positive_probs: (N,) positive-class probability of each image (the ranking score).
        correct: (N,) bool, the image's point is correct; ignored for images without an annotation.
        has_annotation: (N,) bool, the image has a ground-truth annotation (is a positive).

    Returns:
        the AP; 0 when no point is correct, nan (with a warning) without positive images.

    Raises:
        ValueError: when the three inputs differ in length or a probability is not finite.
    """
    probs, true_positive, positive = _ranking_inputs(positive_probs, correct, has_annotation)
    num_positives = int(positive.sum())
    if num_positives == 0:
        warnings.warn(f"localization AP is undefined without positive images: none in {probs.size} image(s).")
        return float("nan")
    num_true_positives = int(true_positive.sum())
    if num_true_positives == 0:
        return 0.0
    return float(average_precision_score(true_positive, probs)) * num_true_positives / num_positives


def compute_pointing_accuracy(correct: NdarrayOrTensor, has_annotation: NdarrayOrTensor) -> float:
    """Pointing-game accuracy: share of images with an annotation whose point is correct.

    Args:
        correct: (N,) bool, the image's point is correct.
        has_annotation: (N,) bool, the image has a ground-truth annotation.

    Returns:
        the accuracy; nan (with a warning) without images with an annotation.

    Raises:
        ValueError: when the inputs differ in length.
    """
    correct_array = convert_to_numpy(correct).astype(bool).ravel()
    positive = convert_to_numpy(has_annotation).astype(bool).ravel()
    if correct_array.size != positive.size:
        raise ValueError(f"correct ({correct_array.size}) and has_annotation ({positive.size}) differ in length.")
    num_positives = int(positive.sum())
    if num_positives == 0:
        warnings.warn(f"pointing accuracy is undefined without annotated images: none in {positive.size} image(s).")
        return float("nan")
    return int((correct_array & positive).sum()) / num_positives


def compute_pointing_localization(
    positive_probs: NdarrayOrTensor,
    activation_maps: NdarrayOrTensor | Sequence[NdarrayOrTensor],
    gt_boxes: Sequence[NdarrayOrTensor] | None = None,
    gt_masks: NdarrayOrTensor | Sequence[NdarrayOrTensor] | None = None,
    image_sizes: Sequence[Sequence[int]] | None = None,
    tolerance: float = 16.0,
) -> PointingLocalizationResult:
    """Points, their correctness, localization AP and pointing accuracy of N images.

    Give the annotations either as boxes (with the image sizes) or as masks (whose shapes are the sizes).

    Args:
        positive_probs: (N,) positive-class probability of each image.
        activation_maps: (N, h, w) positive-class activation maps, or a sequence of N (h, w) maps.
        gt_boxes: N arrays (K_i, 4) of boxes ``(x, y, w, h)`` in image pixels; K_i = 0 for a negative image.
        gt_masks: (N, H, W) masks, or N (H_i, W_i) masks; an empty mask marks a negative image.
        image_sizes: N pairs (H, W); required with ``gt_boxes``, not allowed with ``gt_masks``.
        tolerance: enlargement of the annotations in pixels.

    Returns:
        the AP, the accuracy and the per-image points and flags.

    Raises:
        ValueError: when not exactly one of ``gt_boxes``/``gt_masks`` is given, ``image_sizes`` is missing or
            extra, the inputs differ in length, or an image's map, size or annotation is malformed (its
            index is named).
    """
    _check_tolerance(tolerance)
    if (gt_boxes is None) == (gt_masks is None):
        raise ValueError("give exactly one of gt_boxes and gt_masks.")
    if gt_boxes is not None and image_sizes is None:
        raise ValueError("image_sizes (H, W) per image are required with gt_boxes.")
    if gt_masks is not None and image_sizes is not None:
        raise ValueError("image_sizes must be None with gt_masks: the mask shapes are the image sizes.")
    annotations = gt_boxes if gt_boxes is not None else gt_masks
    probs = convert_to_numpy(positive_probs).ravel()
    lengths = {"positive_probs": probs.size, "activation_maps": len(activation_maps), "annotations": len(annotations)}
    if image_sizes is not None:
        lengths["image_sizes"] = len(image_sizes)
    if len(set(lengths.values())) != 1:
        raise ValueError(f"one entry per image is needed, got lengths {lengths}.")
    points = np.zeros((probs.size, 2), dtype=np.int64)
    correct = np.zeros(probs.size, dtype=bool)
    has_annotation = np.zeros(probs.size, dtype=bool)
    for index in range(probs.size):
        try:
            if gt_masks is not None:
                mask = convert_to_numpy(gt_masks[index])
                points[index] = locate_activation_peak(activation_maps[index], mask.shape)
                has_annotation[index] = bool(np.any(mask != 0))
                correct[index] = point_in_mask(points[index], mask, tolerance)
            else:
                boxes = convert_to_numpy(gt_boxes[index])
                points[index] = locate_activation_peak(activation_maps[index], image_sizes[index])
                has_annotation[index] = boxes.size > 0
                correct[index] = point_in_boxes(points[index], boxes, tolerance)
        except ValueError as error:
            raise ValueError(f"image {index}: {error}") from error
    return PointingLocalizationResult(
        localization_ap=compute_localization_ap(probs, correct, has_annotation),
        pointing_accuracy=compute_pointing_accuracy(correct, has_annotation),
        points=points,
        correct=correct,
        has_annotation=has_annotation,
        tolerance=float(tolerance),
    )


class PointingLocalizationMetric(CumulativeIterationMetric):
    """STL localization AP or pointing accuracy accumulated over batches (works under DDP).

    Ground truth comes as masks (draw boxes into a mask first); an empty mask marks a negative image.
    ``y_pred`` is the pair ``(positive_probs, activation_maps)``; an Ignite ``output_transform`` would build it
    from the classifier and localizer outputs, e.g.
    ``lambda out: ((out["pred"].softmax(1)[:, 1], out["cam"][:, 1:2]), out["label_mask"])``.

    Args:
        tolerance: enlargement of the annotations in pixels (16: half a global stride of 32).
        metric_name: the value ``aggregate`` returns, one of :data:`POINTING_METRIC_NAMES`.

    Example::

        metric = PointingLocalizationMetric()
        for probs, maps, masks in batches:  # (B,), (B, 1, h, w), (B, 1, H, W)
            metric(y_pred=(probs, maps), y=masks)
        ap = metric.aggregate()
    """

    def __init__(self, tolerance: float = 16.0, metric_name: str = "localization_ap") -> None:
        super().__init__()
        _check_tolerance(tolerance)
        if metric_name not in POINTING_METRIC_NAMES:
            raise ValueError(f"metric_name must be one of {POINTING_METRIC_NAMES}, got {metric_name!r}.")
        self.tolerance = tolerance
        self.metric_name = metric_name

    def __call__(  # type: ignore[override]
        self, y_pred: Sequence[torch.Tensor], y: torch.Tensor | None = None, **kwargs: Any
    ) -> torch.Tensor:
        """Add a batch.

        Args:
            y_pred: the pair ``(positive_probs, activation_maps)``: (B,) or (B, 1) and (B, 1, h, w).
            y: (B, 1, H, W) ground-truth masks.

        Returns:
            (B, 5) float64 rows ``(positive probability, correct, has annotation, point row, point column)``,
            also added to the buffer.
        """
        if not (isinstance(y_pred, (tuple, list)) and len(y_pred) == 2):
            raise TypeError("PointingLocalizationMetric: y_pred must be the pair (positive_probs, activation_maps).")
        positive_probs, activation_maps = y_pred
        rows = self._compute_tensor(torch.as_tensor(activation_maps), y, positive_probs=torch.as_tensor(positive_probs))
        self.extend(rows)
        return rows

    def _compute_tensor(  # type: ignore[override]
        self, y_pred: torch.Tensor, y: torch.Tensor | None = None, positive_probs: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Rows of a batch from (B, 1, h, w) maps ``y_pred``, (B, 1, H, W) masks ``y`` and (B,) probabilities."""
        if y is None or positive_probs is None:
            raise ValueError("PointingLocalizationMetric needs ground-truth masks y and positive_probs.")
        if y_pred.ndim != 4 or y_pred.shape[1] != 1 or y.ndim != 4 or y.shape[1] != 1 or len(y) != len(y_pred):
            raise ValueError(
                "activation maps must be (B, 1, h, w) and y (B, 1, H, W), "
                f"got {tuple(y_pred.shape)} and {tuple(y.shape)}."
            )
        probs = positive_probs.detach().reshape(-1).cpu().to(torch.float64)
        if probs.numel() != len(y_pred):
            raise ValueError(f"positive_probs must have one value per image: {probs.numel()} for {len(y_pred)} maps.")
        rows = torch.zeros((len(y_pred), 5), dtype=torch.float64)
        rows[:, 0] = probs
        for index, (activation_map, mask) in enumerate(zip(y_pred[:, 0], y[:, 0].cpu())):
            point = locate_activation_peak(activation_map.cpu(), mask.shape)
            rows[index, 1] = float(point_in_mask(point, mask, self.tolerance))
            rows[index, 2] = float(bool(torch.any(mask != 0)))
            rows[index, 3:] = torch.tensor(point, dtype=torch.float64)
        return rows

    def aggregate_result(self) -> PointingLocalizationResult:
        """AP, accuracy, points and flags of the images added since the last reset.

        Raises:
            ValueError: when no image was added.
        """
        rows = self.get_buffer()
        if rows is None:
            raise ValueError("PointingLocalizationMetric: no image was added before aggregate.")
        records = rows.cpu().numpy()
        probs, correct, has_annotation = records[:, :3].T
        correct_flags = correct.astype(bool) & has_annotation.astype(bool)
        return PointingLocalizationResult(
            localization_ap=compute_localization_ap(probs, correct_flags, has_annotation),
            pointing_accuracy=compute_pointing_accuracy(correct_flags, has_annotation),
            points=records[:, 3:].astype(np.int64),
            correct=correct_flags,
            has_annotation=has_annotation.astype(bool),
            tolerance=float(self.tolerance),
        )

    def aggregate(self) -> float:  # type: ignore[override]
        """The value named by ``metric_name`` for the images added since the last reset."""
        return getattr(self.aggregate_result(), self.metric_name)
