"""Pixel-level precision-recall of segmentation probability maps.

Reports, with ``sklearn.metrics`` semantics:

- ``average_precision``: ``average_precision_score`` (step-wise area, no interpolation);
- ``auc_pr``: trapezoid area under ``precision_recall_curve`` (``sklearn.metrics.auc``);
- ``f1``, ``precision``, ``recall`` of the pixels ``>= threshold`` (precision is 0 when no pixel is predicted).

Pooling: ``"all"`` pools every pixel of every image into one curve; ``"mean"`` averages the per-image values.
An image without a positive pixel has no recall, so under ``"mean"`` it is left out of all five means (a
warning names it); when no image (``"mean"``) or no pixel (``"all"``) is positive, all five values are nan.

Binning: with ``num_bins=None`` the curve is exact (sklearn on every pixel, which sorts all of them). With
``num_bins=K`` each pixel's probability is replaced by the index of its bin (``K`` equal bins of [0, 1]) and
only the per-bin counts of positive and negative pixels are kept; sklearn then runs on those counts as
sample weights. The result is exactly sklearn's on the binned probabilities, without sorting or keeping
the pixels; threshold counts (F1, precision, recall) stay exact. MONAI has no pixel-level PR metric.
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
from sklearn.metrics import auc, average_precision_score, precision_recall_curve

__all__ = ["POOLINGS", "PIXEL_PR_METRIC_NAMES", "PixelPRResult", "compute_pixel_pr", "PixelPRMetric"]

POOLINGS: tuple[str, ...] = ("all", "mean")
"""``"all"``: one curve over the pooled pixels of all images; ``"mean"``: mean of per-image values."""

PIXEL_PR_METRIC_NAMES: tuple[str, ...] = ("average_precision", "auc_pr", "f1", "precision", "recall")
"""Values of :class:`PixelPRResult` that :class:`PixelPRMetric` can report from ``aggregate``."""


@dataclass(frozen=True)
class PixelPRResult:
    """Pixel-level precision-recall values.

    Attributes:
        average_precision: ``sklearn.metrics.average_precision_score``.
        auc_pr: trapezoid area under the precision-recall curve.
        f1: F1 at ``threshold``.
        precision: precision at ``threshold``.
        recall: recall at ``threshold``.
        threshold: pixels ``>= threshold`` are predicted positive.
        pooling: ``"all"`` or ``"mean"``.
        num_bins: bins of the probability histogram, ``None`` when exact.
        num_images: images evaluated.
        num_images_used: images that entered the values (under ``"mean"``, those with a positive pixel).
    """

    average_precision: float
    auc_pr: float
    f1: float
    precision: float
    recall: float
    threshold: float
    pooling: str
    num_bins: int | None
    num_images: int
    num_images_used: int


def _check_options(threshold: float, pooling: str, num_bins: int | None) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}.")
    if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1):
        raise ValueError(f"num_bins must be a positive int or None, got {num_bins!r}.")


def _flat_pair(prob: NdarrayOrTensor, label: NdarrayOrTensor, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Flattened probabilities and boolean labels of image ``index``, validated."""
    prob_array = convert_to_numpy(prob)
    label_array = convert_to_numpy(label)
    if prob_array.shape != label_array.shape:
        raise ValueError(f"image {index}: y_pred shape {prob_array.shape} differs from y shape {label_array.shape}.")
    prob_flat = prob_array.ravel()
    if prob_flat.size and not (np.all(np.isfinite(prob_flat)) and prob_flat.min() >= 0 and prob_flat.max() <= 1):
        raise ValueError(f"image {index}: y_pred must hold probabilities in [0, 1].")
    label_flat = label_array.ravel()
    if label_flat.dtype != np.bool_:
        if not np.all((label_flat == 0) | (label_flat == 1)):
            raise ValueError(f"image {index}: y must be binary (0 or 1).")
        label_flat = label_flat == 1
    return prob_flat, label_flat


def _threshold_counts(prob: np.ndarray, label: np.ndarray, threshold: float) -> np.ndarray:
    """(3,) int64 counts ``(tp, fp, fn)`` of the pixels ``>= threshold``."""
    predicted = prob >= threshold
    tp = np.count_nonzero(predicted & label)
    return np.array([tp, np.count_nonzero(predicted) - tp, np.count_nonzero(label) - tp], dtype=np.int64)


def _binned_row(prob: np.ndarray, label: np.ndarray, threshold: float, num_bins: int) -> np.ndarray:
    """(2 * num_bins + 3,) int64: positive-pixel histogram, negative-pixel histogram, ``(tp, fp, fn)``."""
    bins = np.minimum((prob.astype(np.float64) * num_bins).astype(np.int64), num_bins - 1)
    positive_hist = np.bincount(bins[label], minlength=num_bins)
    negative_hist = np.bincount(bins[~label], minlength=num_bins)
    return np.concatenate([positive_hist, negative_hist, _threshold_counts(prob, label, threshold)])


def _scores_from_counts(counts: np.ndarray) -> tuple[float, float, float]:
    """(f1, precision, recall) of the counts ``(tp, fp, fn)``; precision is 0 without predicted pixels."""
    tp, fp, fn = (int(c) for c in counts)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn)
    f1 = 2 * tp / (2 * tp + fp + fn)
    return f1, precision, recall


def _ap_and_auc(label: np.ndarray, score: np.ndarray, weight: np.ndarray | None) -> tuple[float, float]:
    """Average precision and trapezoid AUC-PR by sklearn; ``weight`` are per-sample counts or None."""
    average_precision = average_precision_score(label, score, sample_weight=weight)
    precision, recall, _ = precision_recall_curve(label, score, sample_weight=weight)
    return float(average_precision), float(auc(recall, precision))


def _ap_and_auc_binned(histograms: np.ndarray) -> tuple[float, float]:
    """Average precision and AUC-PR of (2, num_bins) positive/negative histograms, bin index as score."""
    num_bins = histograms.shape[1]
    label = np.repeat(np.array([True, False]), num_bins)
    score = np.tile(np.arange(num_bins, dtype=np.float64), 2)
    weight = histograms.ravel()
    occupied = weight > 0
    return _ap_and_auc(label[occupied], score[occupied], weight[occupied].astype(np.float64))


def _empty_result(threshold: float, pooling: str, num_bins: int | None, num_images: int) -> PixelPRResult:
    nan = float("nan")
    return PixelPRResult(nan, nan, nan, nan, nan, threshold, pooling, num_bins, num_images, 0)


def _warn_left_out(left_out: list[int]) -> None:
    shown = ", ".join(str(i) for i in left_out[:10]) + (", ..." if len(left_out) > 10 else "")
    warnings.warn(f"pixel PR, pooling 'mean': {len(left_out)} image(s) without a positive pixel left out: {shown}.")


def _pr_from_binned_rows(rows: np.ndarray, threshold: float, pooling: str) -> PixelPRResult:
    """Values from (N, 2 * num_bins + 3) per-image rows made by ``_binned_row``."""
    num_images = rows.shape[0]
    num_bins = (rows.shape[1] - 3) // 2
    histograms = rows[:, : 2 * num_bins].reshape(num_images, 2, num_bins)
    counts = rows[:, 2 * num_bins :]
    has_positive = histograms[:, 0].sum(axis=1) > 0
    if pooling == "all":
        if not has_positive.any():
            warnings.warn(f"pixel PR is undefined without positive pixels: none in {num_images} image(s).")
            return _empty_result(threshold, pooling, num_bins, num_images)
        ap, auc_pr = _ap_and_auc_binned(histograms.sum(axis=0))
        f1, precision, recall = _scores_from_counts(counts.sum(axis=0))
        return PixelPRResult(ap, auc_pr, f1, precision, recall, threshold, pooling, num_bins, num_images, num_images)
    used = np.flatnonzero(has_positive)
    if used.size < num_images:
        _warn_left_out(np.flatnonzero(~has_positive).tolist())
    if used.size == 0:
        return _empty_result(threshold, pooling, num_bins, num_images)
    curves = np.array([_ap_and_auc_binned(histograms[i]) for i in used])
    scores = np.array([_scores_from_counts(counts[i]) for i in used])
    ap, auc_pr = curves.mean(axis=0)
    f1, precision, recall = scores.mean(axis=0)
    values = (float(ap), float(auc_pr), float(f1), float(precision), float(recall))
    return PixelPRResult(*values, threshold, pooling, num_bins, num_images, int(used.size))


def _pr_from_pixels(
    probs: Sequence[np.ndarray], labels: Sequence[np.ndarray], threshold: float, pooling: str
) -> PixelPRResult:
    """Exact values from per-image flattened probabilities and boolean labels."""
    num_images = len(probs)
    has_positive = np.array([label.any() for label in labels])
    if pooling == "all":
        if not has_positive.any():
            warnings.warn(f"pixel PR is undefined without positive pixels: none in {num_images} image(s).")
            return _empty_result(threshold, pooling, None, num_images)
        all_probs = np.concatenate(probs)
        all_labels = np.concatenate(labels)
        ap, auc_pr = _ap_and_auc(all_labels, all_probs, None)
        f1, precision, recall = _scores_from_counts(_threshold_counts(all_probs, all_labels, threshold))
        return PixelPRResult(ap, auc_pr, f1, precision, recall, threshold, pooling, None, num_images, num_images)
    used = np.flatnonzero(has_positive)
    if used.size < num_images:
        _warn_left_out(np.flatnonzero(~has_positive).tolist())
    if used.size == 0:
        return _empty_result(threshold, pooling, None, num_images)
    curves = np.array([_ap_and_auc(labels[i], probs[i], None) for i in used])
    scores = np.array([_scores_from_counts(_threshold_counts(probs[i], labels[i], threshold)) for i in used])
    ap, auc_pr = curves.mean(axis=0)
    f1, precision, recall = scores.mean(axis=0)
    values = (float(ap), float(auc_pr), float(f1), float(precision), float(recall))
    return PixelPRResult(*values, threshold, pooling, None, num_images, int(used.size))


def compute_pixel_pr(
    y_pred: NdarrayOrTensor | Sequence[NdarrayOrTensor],
    y: NdarrayOrTensor | Sequence[NdarrayOrTensor],
    threshold: float = 0.5,
    pooling: str = "all",
    num_bins: int | None = None,
) -> PixelPRResult:
    """Pixel-level average precision, AUC-PR and F1/precision/recall of probability maps.

    Args:
        y_pred: (N, ...) probabilities in [0, 1], or a sequence of N per-image arrays (sizes may differ).
        y: (N, ...) binary ground truth, or a sequence of N per-image arrays shaped as ``y_pred``'s.
        threshold: pixels ``>= threshold`` are predicted positive for F1, precision and recall.
        pooling: ``"all"`` (pooled pixels) or ``"mean"`` (mean of per-image values).
        num_bins: ``None`` for the exact curve, or the number of equal probability bins (e.g. 1000).

    Returns:
        the five values and how they were obtained.

    Raises:
        ValueError: on a different number of maps and masks, no image, a map and mask of different shapes,
            probabilities outside [0, 1] or a non-binary mask (the image index is named), or bad options.
    """
    _check_options(threshold, pooling, num_bins)
    if len(y_pred) != len(y):
        raise ValueError(f"got {len(y_pred)} y_pred maps but {len(y)} y masks.")
    if len(y_pred) == 0:
        raise ValueError("pixel PR needs at least one image; none was given.")
    pairs = [_flat_pair(prob, label, index) for index, (prob, label) in enumerate(zip(y_pred, y))]
    if num_bins is None:
        return _pr_from_pixels([p for p, _ in pairs], [t for _, t in pairs], threshold, pooling)
    rows = np.stack([_binned_row(prob, label, threshold, num_bins) for prob, label in pairs])
    return _pr_from_binned_rows(rows, threshold, pooling)


class PixelPRMetric(CumulativeIterationMetric):
    """Pixel-level precision-recall accumulated over batches (works under DDP), as :func:`compute_pixel_pr`.

    With ``num_bins`` set (the default, 1000) each image keeps only its two histograms and three threshold
    counts; with ``num_bins=None`` every pixel is kept, which needs all images of the same size.

    Args:
        threshold: see :func:`compute_pixel_pr`.
        pooling: see :func:`compute_pixel_pr`.
        num_bins: see :func:`compute_pixel_pr`; note the different default.
        metric_name: the value ``aggregate`` returns, one of :data:`PIXEL_PR_METRIC_NAMES`.

    Example::

        metric = PixelPRMetric(pooling="all", metric_name="average_precision")
        for prob, mask in batches:  # (B, 1, H, W) each
            metric(y_pred=prob, y=mask)
        ap = metric.aggregate()
    """

    def __init__(
        self,
        threshold: float = 0.5,
        pooling: str = "all",
        num_bins: int | None = 1000,
        metric_name: str = "average_precision",
    ) -> None:
        super().__init__()
        _check_options(threshold, pooling, num_bins)
        if metric_name not in PIXEL_PR_METRIC_NAMES:
            raise ValueError(f"metric_name must be one of {PIXEL_PR_METRIC_NAMES}, got {metric_name!r}.")
        self.threshold = threshold
        self.pooling = pooling
        self.num_bins = num_bins
        self.metric_name = metric_name

    def reset(self) -> None:
        """Forget the images added so far."""
        super().reset()
        self._pixels_per_image: int | None = None

    def _compute_tensor(
        self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs: Any
    ) -> torch.Tensor | list[torch.Tensor]:
        """Per-image summaries of a batch.

        Args:
            y_pred: (B, 1, spatial...) probabilities in [0, 1].
            y: (B, 1, spatial...) binary ground truth.

        Returns:
            binned: (B, 2 * num_bins + 3) int64 rows (histograms and threshold counts); exact: the pair
            (B, P) float32 probabilities and (B, P) uint8 labels, P pixels per image.
        """
        if y is None:
            raise ValueError("PixelPRMetric needs ground-truth masks y.")
        if y_pred.ndim < 3 or y_pred.shape[1] != 1 or y_pred.shape != y.shape:
            raise ValueError(
                f"y_pred and y must both be (B, 1, spatial...), got {tuple(y_pred.shape)} and {tuple(y.shape)}."
            )
        pairs = [_flat_pair(prob, label, index) for index, (prob, label) in enumerate(zip(y_pred, y))]
        if self.num_bins is None:
            pixels_per_image = pairs[0][0].size
            if self._pixels_per_image is None:
                self._pixels_per_image = pixels_per_image
            if pixels_per_image != self._pixels_per_image:
                raise ValueError(
                    f"PixelPRMetric with num_bins=None needs images of one size: got {pixels_per_image} pixels "
                    f"per image after {self._pixels_per_image}; set num_bins to mix sizes."
                )
            return [
                torch.from_numpy(np.stack([prob.astype(np.float32) for prob, _ in pairs])),
                torch.from_numpy(np.stack([label.astype(np.uint8) for _, label in pairs])),
            ]
        rows = [_binned_row(prob, label, self.threshold, self.num_bins) for prob, label in pairs]
        return torch.from_numpy(np.stack(rows))

    def aggregate_result(self) -> PixelPRResult:
        """All values for the images added since the last reset.

        Raises:
            ValueError: when no image was added.
        """
        buffer = self.get_buffer()
        if buffer is None:
            raise ValueError("PixelPRMetric: no image was added before aggregate.")
        if self.num_bins is None:
            probs, labels = (b.cpu().numpy() for b in buffer)
            return _pr_from_pixels(list(probs), list(labels.astype(bool)), self.threshold, self.pooling)
        return _pr_from_binned_rows(buffer.cpu().numpy(), self.threshold, self.pooling)

    def aggregate(self) -> float:  # type: ignore[override]
        """The value named by ``metric_name`` for the images added since the last reset."""
        return getattr(self.aggregate_result(), self.metric_name)
