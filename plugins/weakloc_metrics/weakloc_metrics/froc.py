"""Lesion-level FROC from probability maps and ground-truth masks.

The counting and the curve are MONAI's (:mod:`monai.metrics.froc`, the CAMELYON16 definition): a detection
hits a lesion when its point falls inside the lesion, a lesion's probability is the maximum of its hits,
further hits on the same lesion are neither true nor false positives, missed lesions count with
probability 0, and the score is the mean sensitivity at fixed average numbers of false positives per
image. What MONAI lacks, and this module adds, is the step from dense maps to detections and lesions:

- **detections**: the connected components of ``prob_map >= detection_threshold``, each detected once at
  the pixel of its maximum (the first such pixel in row-major order on ties) with that maximum as its
  probability;
- **lesions**: the connected components of the ground-truth mask.

Both use the same ``connectivity`` (1: edge neighbours, 2: edge and corner neighbours). An image without a
lesion contributes only false positives; an image without a detection contributes nothing but its lesions,
which count in the total as missed. Maps are evaluated in float32, the precision in which MONAI stores
lesion probabilities.

``monai.apps.pathology.metrics.LesionFROC`` does the same for whole-slide images but reads files and uses
pathology-specific non-maximum suppression, hence this module for in-memory maps.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from monai.config import NdarrayOrTensor
from monai.metrics import CumulativeIterationMetric
from monai.utils import convert_to_numpy
from monai.metrics.froc import compute_fp_tp_probs_nd, compute_froc_curve_data, compute_froc_score
from scipy import ndimage

__all__ = [
    "CAMELYON16_FP_PER_IMAGE",
    "ROC_FP_PER_IMAGE",
    "FROC_PRESETS",
    "HeatmapFROCResult",
    "detect_heatmap_peaks",
    "label_lesions",
    "compute_lesion_hits",
    "compute_heatmap_froc",
    "HeatmapFROCMetric",
]

CAMELYON16_FP_PER_IMAGE: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""Operating points of the CAMELYON16 challenge (average false positives per image)."""

ROC_FP_PER_IMAGE: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""Operating points of the Retinopathy Online Challenge (microaneurysms)."""

FROC_PRESETS: dict[str, tuple[float, ...]] = {"camelyon16": CAMELYON16_FP_PER_IMAGE, "roc": ROC_FP_PER_IMAGE}
"""Named sets of operating points accepted as ``eval_thresholds``."""

# codes of the second column of the per-image records (see ``_image_records``)
_FALSE_POSITIVE = 0.0
_LESION = 1.0
_IMAGE = 2.0


@dataclass(frozen=True)
class HeatmapFROCResult:
    """FROC of a set of images.

    Attributes:
        score: mean sensitivity at ``eval_thresholds`` (``nan`` when there is no lesion at all).
        fps_per_image: (T,) average false positives per image of each point of the curve, decreasing.
        sensitivity: (T,) lesion sensitivity of each point of the curve.
        eval_thresholds: the operating points, in average false positives per image.
        sensitivity_at_thresholds: (len(eval_thresholds),) interpolated sensitivity at each operating point.
        num_lesions: lesions in all images.
        num_images: images evaluated.
    """

    score: float
    fps_per_image: np.ndarray
    sensitivity: np.ndarray
    eval_thresholds: tuple[float, ...]
    sensitivity_at_thresholds: np.ndarray
    num_lesions: int
    num_images: int


def _resolve_eval_thresholds(eval_thresholds: str | Sequence[float]) -> tuple[float, ...]:
    """Turn a preset name or a sequence of operating points into a tuple of positive floats."""
    if isinstance(eval_thresholds, str):
        if eval_thresholds not in FROC_PRESETS:
            raise ValueError(
                f"eval_thresholds: unknown preset {eval_thresholds!r}; choose one of {sorted(FROC_PRESETS)} "
                "or give a sequence of false positives per image."
            )
        return FROC_PRESETS[eval_thresholds]
    resolved = tuple(float(t) for t in eval_thresholds)
    if not resolved or any(not np.isfinite(t) or t <= 0 for t in resolved):
        raise ValueError(f"eval_thresholds must be non-empty and positive, got {eval_thresholds!r}.")
    return resolved


def _check_connectivity(connectivity: int) -> None:
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 (edge neighbours) or 2 (edge and corner), got {connectivity!r}.")


def detect_heatmap_peaks(
    prob_map: NdarrayOrTensor, detection_threshold: float = 0.5, connectivity: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Detections of a probability map: one per connected component above a threshold, at its maximum.

    ``scipy.ndimage.maximum_position`` would do the per-component arg-max but sorts every pixel of the map;
    this sorts only the pixels above the threshold, which on large maps with small lesions is far faster.

    Args:
        prob_map: (H, W) probabilities.
        detection_threshold: pixels ``>= detection_threshold`` form the candidate components; must be > 0
            because MONAI gives missed lesions probability 0.
        connectivity: 1 (edge neighbours) or 2 (edge and corner neighbours).

    Returns:
        probs: (n,) float32 maximum probability of each detection, in label order.
        coords: (n, 2) int64 (row, column) of each detection.

    Raises:
        ValueError: when the map is not 2-D or not finite, the threshold is not positive or the connectivity
            is unknown.
    """
    prob = convert_to_numpy(prob_map).astype(np.float32, copy=False)
    if prob.ndim != 2:
        raise ValueError(f"prob_map must be (H, W), got shape {prob.shape}.")
    if not np.all(np.isfinite(prob)):
        raise ValueError("prob_map holds NaN or infinite values.")
    if not detection_threshold > 0:
        raise ValueError(f"detection_threshold must be > 0, got {detection_threshold!r}.")
    _check_connectivity(connectivity)
    components, num_components = ndimage.label(
        prob >= detection_threshold, structure=ndimage.generate_binary_structure(2, connectivity)
    )
    if num_components == 0:
        return np.zeros((0,), dtype=np.float32), np.zeros((0, 2), dtype=np.int64)
    flat_index = np.flatnonzero(components)
    values = prob.ravel()[flat_index]
    labels = components.ravel()[flat_index]
    order = np.lexsort((-values, labels))  # stable: ties keep row-major order
    first_of_label = order[np.searchsorted(labels[order], np.arange(1, num_components + 1))]
    rows, cols = np.unravel_index(flat_index[first_of_label], prob.shape)
    return values[first_of_label], np.stack([rows, cols], axis=1).astype(np.int64)


def label_lesions(gt_mask: NdarrayOrTensor, connectivity: int = 2) -> tuple[np.ndarray, int]:
    """Lesions of a ground-truth mask: its connected components.

    Args:
        gt_mask: (H, W) mask, non-zero inside lesions.
        connectivity: 1 (edge neighbours) or 2 (edge and corner neighbours).

    Returns:
        labels: (H, W) int32, 0 outside lesions and 1..num_lesions inside.
        num_lesions: number of lesions.

    Raises:
        ValueError: when the mask is not 2-D or the connectivity is unknown.
    """
    mask = convert_to_numpy(gt_mask)
    if mask.ndim != 2:
        raise ValueError(f"gt_mask must be (H, W), got shape {mask.shape}.")
    _check_connectivity(connectivity)
    labels, num_lesions = ndimage.label(mask != 0, structure=ndimage.generate_binary_structure(2, connectivity))
    return labels.astype(np.int32, copy=False), int(num_lesions)


def compute_lesion_hits(
    prob_map: NdarrayOrTensor,
    gt_mask: NdarrayOrTensor,
    detection_threshold: float = 0.5,
    connectivity: int = 2,
) -> tuple[np.ndarray, np.ndarray, int]:
    """False-positive and lesion probabilities of one image, by ``monai.metrics.froc.compute_fp_tp_probs_nd``.

    Args:
        prob_map: (H, W) probabilities.
        gt_mask: (H, W) ground-truth mask, non-zero inside lesions.
        detection_threshold: see :func:`detect_heatmap_peaks`.
        connectivity: see :func:`detect_heatmap_peaks`.

    Returns:
        fp_probs: (n_fp,) probabilities of the detections outside every lesion.
        tp_probs: (num_lesions,) float32 maximum probability of the hits on each lesion, 0 when missed.
        num_lesions: number of lesions.

    Raises:
        ValueError: when the map and the mask differ in shape.
    """
    prob = convert_to_numpy(prob_map)
    mask = convert_to_numpy(gt_mask)
    if prob.shape != mask.shape:
        raise ValueError(f"prob_map shape {prob.shape} differs from gt_mask shape {mask.shape}.")
    probs, coords = detect_heatmap_peaks(prob, detection_threshold, connectivity)
    lesions, _ = label_lesions(mask, connectivity)
    fp_probs, tp_probs, num_lesions = compute_fp_tp_probs_nd(probs=probs, coords=coords, evaluation_mask=lesions)
    return np.asarray(fp_probs), np.asarray(tp_probs), int(num_lesions)


def _image_records(
    prob_map: np.ndarray, gt_mask: np.ndarray, detection_threshold: float, connectivity: int
) -> np.ndarray:
    """(n, 2) float64 rows ``(probability, code)`` of one image: its false positives, its lesions and one image row.

    The image row makes every image non-empty, so that per-image records can be gathered across ranks.
    """
    fp_probs, tp_probs, _ = compute_lesion_hits(prob_map, gt_mask, detection_threshold, connectivity)
    return np.concatenate(
        [
            np.stack([fp_probs.astype(np.float64), np.full(fp_probs.shape, _FALSE_POSITIVE)], axis=1),
            np.stack([tp_probs.astype(np.float64), np.full(tp_probs.shape, _LESION)], axis=1),
            np.array([[0.0, _IMAGE]]),
        ]
    )


def _froc_from_records(records: np.ndarray, eval_thresholds: tuple[float, ...]) -> HeatmapFROCResult:
    """FROC of the images whose rows are in ``records`` (n, 2), with MONAI's curve and score."""
    codes = records[:, 1]
    num_images = int(np.count_nonzero(codes == _IMAGE))
    if num_images == 0:
        raise ValueError("FROC needs at least one image; none was given.")
    fp_probs = records[codes == _FALSE_POSITIVE, 0].astype(np.float32)
    tp_probs = records[codes == _LESION, 0].astype(np.float32)
    num_lesions = int(tp_probs.size)
    if num_lesions == 0:
        warnings.warn(f"FROC is undefined without lesions: none in the {num_images} images; score is nan.")
        nan_at_thresholds = np.full(len(eval_thresholds), np.nan)
        return HeatmapFROCResult(
            float("nan"), np.zeros(0), np.zeros(0), eval_thresholds, nan_at_thresholds, 0, num_images
        )
    fps_per_image, sensitivity = compute_froc_curve_data(
        fp_probs=fp_probs, tp_probs=tp_probs, num_targets=num_lesions, num_images=num_images
    )
    sensitivity_at_thresholds = np.array(
        [compute_froc_score(fps_per_image, sensitivity, (threshold,)) for threshold in eval_thresholds]
    )
    return HeatmapFROCResult(
        score=float(compute_froc_score(fps_per_image, sensitivity, eval_thresholds)),
        fps_per_image=np.asarray(fps_per_image, dtype=np.float64),
        sensitivity=np.asarray(sensitivity, dtype=np.float64),
        eval_thresholds=eval_thresholds,
        sensitivity_at_thresholds=sensitivity_at_thresholds,
        num_lesions=num_lesions,
        num_images=num_images,
    )


def compute_heatmap_froc(
    prob_maps: NdarrayOrTensor | Sequence[NdarrayOrTensor],
    gt_masks: NdarrayOrTensor | Sequence[NdarrayOrTensor],
    detection_threshold: float = 0.5,
    eval_thresholds: str | Sequence[float] = "camelyon16",
    connectivity: int = 2,
) -> HeatmapFROCResult:
    """Lesion-level FROC of probability maps against ground-truth masks.

    Args:
        prob_maps: (N, H, W) probabilities, or a sequence of N (H, W) maps (sizes may differ between images).
        gt_masks: (N, H, W) masks, or a sequence of N (H, W) masks, non-zero inside lesions.
        detection_threshold: candidate pixels are ``>= detection_threshold`` (> 0); see :func:`detect_heatmap_peaks`.
        eval_thresholds: operating points in average false positives per image: ``"camelyon16"``
            (1/4 .. 8), ``"roc"`` (Retinopathy Online Challenge, 1/8 .. 8) or a sequence of positive floats.
        connectivity: 1 (edge neighbours) or 2 (edge and corner neighbours), for detections and lesions.

    Returns:
        the score, the curve and the sensitivity at each operating point.

    Raises:
        ValueError: on a different number of maps and masks, a map and mask of different shapes (the image
            index is named), no image, or bad ``detection_threshold``, ``eval_thresholds`` or ``connectivity``.
    """
    thresholds = _resolve_eval_thresholds(eval_thresholds)
    if len(prob_maps) != len(gt_masks):
        raise ValueError(f"got {len(prob_maps)} prob_maps but {len(gt_masks)} gt_masks.")
    records = []
    for index, (prob_map, gt_mask) in enumerate(zip(prob_maps, gt_masks)):
        try:
            image_records = _image_records(
                convert_to_numpy(prob_map), convert_to_numpy(gt_mask), detection_threshold, connectivity
            )
        except ValueError as error:
            raise ValueError(f"image {index}: {error}") from error
        records.append(image_records)
    if not records:
        raise ValueError("FROC needs at least one image; none was given.")
    return _froc_from_records(np.concatenate(records), thresholds)


class HeatmapFROCMetric(CumulativeIterationMetric):
    """Lesion-level FROC accumulated over batches (works under DDP), as :func:`compute_heatmap_froc`.

    Each call adds, per image, the probabilities of its false positives and of its lesions; ``aggregate``
    computes the score of everything added since the last ``reset``.

    Args:
        detection_threshold: see :func:`compute_heatmap_froc`.
        eval_thresholds: see :func:`compute_heatmap_froc`.
        connectivity: see :func:`compute_heatmap_froc`.

    Example::

        metric = HeatmapFROCMetric(eval_thresholds="roc")
        for prob, mask in batches:  # (B, 1, H, W) each
            metric(y_pred=prob, y=mask)
        score = metric.aggregate()
    """

    def __init__(
        self,
        detection_threshold: float = 0.5,
        eval_thresholds: str | Sequence[float] = "camelyon16",
        connectivity: int = 2,
    ) -> None:
        super().__init__()
        if not detection_threshold > 0:
            raise ValueError(f"detection_threshold must be > 0, got {detection_threshold!r}.")
        _check_connectivity(connectivity)
        self.detection_threshold = detection_threshold
        self.eval_thresholds = _resolve_eval_thresholds(eval_thresholds)
        self.connectivity = connectivity

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """Records of a batch.

        Args:
            y_pred: (B, 1, H, W) probability maps.
            y: (B, 1, H, W) ground-truth masks.

        Returns:
            (n, 2) float64 rows ``(probability, code)``: false positives, lesions and one row per image.
        """
        if y is None:
            raise ValueError("HeatmapFROCMetric needs ground-truth masks y.")
        if y_pred.ndim != 4 or y_pred.shape[1] != 1 or y_pred.shape != y.shape:
            raise ValueError(
                f"y_pred and y must both be (B, 1, H, W), got {tuple(y_pred.shape)} and {tuple(y.shape)}."
            )
        prob_maps = y_pred[:, 0].cpu().numpy()
        gt_masks = y[:, 0].cpu().numpy()
        records = [
            _image_records(prob_map, gt_mask, self.detection_threshold, self.connectivity)
            for prob_map, gt_mask in zip(prob_maps, gt_masks)
        ]
        return torch.from_numpy(np.concatenate(records))

    def aggregate_result(self) -> HeatmapFROCResult:
        """Score, curve and per-operating-point sensitivity of all images added since the last reset.

        Raises:
            ValueError: when no image was added.
        """
        records = self.get_buffer()
        if records is None:
            raise ValueError("HeatmapFROCMetric: no image was added before aggregate.")
        return _froc_from_records(records.cpu().numpy(), self.eval_thresholds)

    def aggregate(self) -> float:  # type: ignore[override]
        """FROC score (mean sensitivity at the operating points) of all images added since the last reset."""
        return self.aggregate_result().score
