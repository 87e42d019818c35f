"""MaxBoxAcc v1 and v2 (Choe et al. 2020, "Evaluating Weakly Supervised Object Localization Methods Right").

For every image: min-max normalise the heatmap (a constant or NaN map becomes all zeros), binarise it at
each threshold tau of a grid, box the contour of largest area (v1) or every contour (v2), and call
the image correct at tau when the IoU of its best box with one of its ground-truth boxes is >= delta.
BoxAcc(tau, delta) is the share of correct images; MaxBoxAcc(delta) = max over tau. v1 reports delta = 0.5;
v2 reports the mean of MaxBoxAcc over delta in {0.3, 0.5, 0.7}. Results are fractions in [0, 1] (the
reference ``wsolevaluation`` prints percent).

Boxes, as the reference draws them with OpenCV (``cv2.findContours`` with ``RETR_TREE`` and
``CHAIN_APPROX_SIMPLE``, ``cv2.boundingRect``, ``cv2.contourArea``), computed here with ``scipy.ndimage``
because OpenCV is not a dependency of the toolkit:

- binarisation: the map is quantised to 8 bit as ``q = floor(255 * s)`` and a pixel is foreground when
  ``q > floor(tau * max(q))`` (``cv2.threshold`` on the 8-bit map);
- contours: OpenCV's border following (Suzuki and Abe 1985) takes foreground components as 8-connected
  and background regions as 4-connected, the image being surrounded by background. ``RETR_TREE`` lists
  every border: the outer border of each foreground component, and the border of each hole (a background
  region that does not reach the image edge), components inside holes included. An outer border spans
  its component's pixels; a hole's border runs through the foreground pixels around the hole, so it spans
  the hole's pixels grown by one on each side;
- v2 boxes every contour. v1 boxes the contour of largest ``cv2.contourArea``, the shoelace area of the
  border polygon through pixel centres. Every hole and everything inside it lies within the polygon of the
  component around it, so the largest contour is the outer border of a component that lies in no hole.
  Its polygon covers a 2 x 2 block of pixel centres whole when the component and its holes fill the four
  pixels, and half of it when they fill three. On equal areas the reference keeps the contour OpenCV lists
  first: of these components, the one whose first pixel in raster order comes last;
- a contour spanning columns c0..c1 and rows r0..r1 gets the inclusive pixel box
  ``x0, y0, x1, y1 = c0, r0, min(c1 + 1, W - 1), min(r1 + 1, H - 1)`` (the reference's ``x + w`` from
  ``cv2.boundingRect``, clipped to the image), and IoU counts pixels inclusively (``x1 - x0 + 1``). No
  foreground at all gives the box ``0, 0, 0, 0`` (one pixel), as in the reference;
- ground-truth boxes are the toolkit's ``x, y, w, h`` (columns x..x+w-1), i.e. inclusive corners
  ``x, y, x + w - 1, y + h - 1``; heatmap and boxes share one pixel frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric
from monai.utils import convert_to_numpy
from scipy import ndimage

from weakloc_metrics.boxes import as_xywh_boxes, xywh_iou

__all__ = [
    "DEFAULT_CAM_THRESHOLDS",
    "IOU_THRESHOLDS_BY_VERSION",
    "MaxBoxAccuracyCurves",
    "normalize_heatmap",
    "component_boxes",
    "heatmap_boxes",
    "compute_box_accuracy_curves",
    "compute_box_accuracy_curves_by_version",
    "compute_max_box_accuracy",
    "MaxBoxAccuracyMetric",
]

DEFAULT_CAM_THRESHOLDS: np.ndarray = np.arange(0, 1, 0.01)
"""The reference's heatmap threshold grid (``cam_curve_interval=0.01``): 0.00, 0.01, ..., 0.99."""
IOU_THRESHOLDS_BY_VERSION: dict[int, tuple[float, ...]] = {1: (0.5,), 2: (0.3, 0.5, 0.7)}
"""The IoU thresholds delta of MaxBoxAcc v1 and v2."""
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)
NO_CONTOUR_BOX = np.array([[0.0, 0.0, 1.0, 1.0]])
"""The box of a map without foreground: the reference's ``0, 0, 0, 0``, one pixel, as ``x, y, w, h``."""


@dataclass(frozen=True)
class MaxBoxAccuracyCurves:
    """BoxAcc over the heatmap threshold grid, for each IoU threshold.

    Attributes:
        cam_thresholds: (T,) heatmap thresholds tau.
        iou_thresholds: (D,) IoU thresholds delta.
        box_accuracy: (D, T) BoxAcc(tau, delta).
        max_box_accuracy: (D,) MaxBoxAcc(delta), the maximum over tau.
        best_cam_thresholds: (D,) the tau reaching it (the smallest on ties).
        value: the reported MaxBoxAcc: the mean of ``max_box_accuracy`` (v2) or its one value (v1).
    """

    cam_thresholds: np.ndarray
    iou_thresholds: np.ndarray
    box_accuracy: np.ndarray
    max_box_accuracy: np.ndarray
    best_cam_thresholds: np.ndarray
    value: float


def _check_setup(version: int, cam_thresholds: Any) -> tuple[np.ndarray, np.ndarray]:
    if version not in IOU_THRESHOLDS_BY_VERSION:
        raise ValueError(f"MaxBoxAcc version must be 1 or 2, got {version!r}")
    grid = np.asarray(cam_thresholds, dtype=np.float64).reshape(-1)
    if grid.size == 0 or grid.min() < 0.0 or grid.max() >= 1.0:
        raise ValueError(f"cam_thresholds must be non-empty and lie in [0, 1), got {grid.tolist()}")
    return grid, np.asarray(IOU_THRESHOLDS_BY_VERSION[version])


def normalize_heatmap(heatmap: Any, image: str = "heatmap") -> np.ndarray:
    """Min-max normalise one heatmap to [0, 1]; a constant map, or one holding a NaN, becomes all zeros.

    Args:
        heatmap: (H, W) or (1, H, W) map.
        image: the image's name in error messages.

    Returns:
        (H, W) float64 map.
    """
    array = convert_to_numpy(heatmap, wrap_sequence=True).astype(np.float64)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"{image}: expected an (H, W) or (1, H, W) heatmap, got shape {tuple(array.shape)}")
    if np.isnan(array).any() or array.min() == array.max():
        return np.zeros_like(array)
    return (array - array.min()) / (array.max() - array.min())


def _pixel_extents(labels: np.ndarray) -> np.ndarray:
    """Pixel extents of the labelled regions (labels without pixels are skipped).

    Args:
        labels: (H, W) int labels, 0 for none.

    Returns:
        (N, 4) int64 first column, first row, last column, last row of each region, in label order.
    """
    slices = filter(None, ndimage.find_objects(labels))
    extents = [[columns.start, rows.start, columns.stop - 1, rows.stop - 1] for rows, columns in slices]
    return np.array(extents, dtype=np.int64).reshape(-1, 4)


def _reference_boxes(extents: np.ndarray, height: int, width: int) -> np.ndarray:
    """The reference's inclusive boxes of contours.

    Args:
        extents: (N, 4) first column, first row, last column, last row of each contour, in image pixels.
        height: H of the image.
        width: W of the image.

    Returns:
        (N, 4) float64 ``x, y, w, h`` boxes whose pixels are ``x0 = c0 .. x1 = min(c1 + 1, W - 1)`` and
        ``y0 = r0 .. y1 = min(r1 + 1, H - 1)``.
    """
    x1 = np.minimum(extents[:, 2] + 1, width - 1)
    y1 = np.minimum(extents[:, 3] + 1, height - 1)
    boxes = np.stack([extents[:, 0], extents[:, 1], x1 - extents[:, 0] + 1, y1 - extents[:, 1] + 1], axis=1)
    return boxes.astype(np.float64)


def _largest_region(labels: np.ndarray, count: int) -> int:
    """The region whose outer border polygon has the largest ``cv2.contourArea``; on equal areas the one
    OpenCV lists first, i.e. whose first pixel comes last in raster order.

    Args:
        labels: (H, W) int labels of 8-connected regions without holes, 0 elsewhere; no region touches
            the array's edge.
        count: the number of regions, >= 1.

    Returns:
        the region's label.
    """
    pixels = (labels > 0).view(np.uint8)
    block_count = pixels[:-1, :-1] + pixels[:-1, 1:] + pixels[1:, :-1] + pixels[1:, 1:]
    # a 2 x 2 block with three or four pixels of one region holds one of its diagonal corners
    block_label = np.maximum(labels[:-1, :-1], labels[1:, 1:])
    full_blocks = np.bincount(block_label[block_count == 4], minlength=count + 1)
    half_blocks = np.bincount(block_label[block_count == 3], minlength=count + 1)
    doubled_area = (2 * full_blocks + half_blocks)[1:]
    largest = np.flatnonzero(doubled_area == doubled_area.max()) + 1
    if largest.size == 1:
        return int(largest[0])
    raster = labels.ravel()
    tied_labels, first_pixels = np.unique(raster[np.isin(raster, largest)], return_index=True)
    return int(tied_labels[np.argmax(first_pixels)])


def component_boxes(normalized: np.ndarray, cam_threshold: float) -> dict[int, np.ndarray]:
    """Boxes of a normalised heatmap binarised at ``cam_threshold``, for both versions (module conventions).

    One labelling of the foreground and one of the background serve both versions: v1 boxes the contour of
    largest area, v2 every contour of the ``RETR_TREE`` tree.

    Args:
        normalized: (H, W) map in [0, 1] (see :func:`normalize_heatmap`).
        cam_threshold: tau in [0, 1).

    Returns:
        version (1, 2) -> (N, 4) ``x, y, w, h`` boxes (N >= 1; N = 1 for v1) whose pixels are the
        reference's inclusive box. v2 lists the outer borders of the components, then the borders of the
        holes, each in label order (OpenCV lists them in another order).
    """
    height, width = normalized.shape
    quantized = (normalized * 255).astype(np.uint8)
    foreground = quantized > int(cam_threshold * quantized.max())
    if not foreground.any():
        return {1: NO_CONTOUR_BOX.copy(), 2: NO_CONTOUR_BOX.copy()}
    padded = np.pad(foreground, 1)
    components, count = ndimage.label(padded, structure=EIGHT_CONNECTED)
    background, background_count = ndimage.label(~padded, structure=FOUR_CONNECTED)
    outside = background[0, 0]
    # padded pixels -> image pixels; a hole's border lies one pixel outside the hole
    outer_extents = _pixel_extents(components) - 1
    hole_extents = np.delete(_pixel_extents(background), outside - 1, axis=0) + np.array([-2, -2, 0, 0])
    if count == 1:
        largest = 1
    elif background_count == 1:
        largest = _largest_region(components, count)
    else:
        # the largest contour is the outer border of a component in no hole, whose polygon holds its holes
        filled, filled_count = ndimage.label(background != outside, structure=EIGHT_CONNECTED)
        region = _largest_region(filled, filled_count)
        largest = int(components.flat[np.argmax(filled.ravel() == region)])
    return {
        1: _reference_boxes(outer_extents[largest - 1 : largest], height, width),
        2: _reference_boxes(np.concatenate([outer_extents, hole_extents]), height, width),
    }


def heatmap_boxes(normalized: np.ndarray, cam_threshold: float, every_component: bool) -> np.ndarray:
    """Boxes of the contours of a normalised heatmap binarised at ``cam_threshold`` (module conventions).

    Args:
        normalized: (H, W) map in [0, 1] (see :func:`normalize_heatmap`).
        cam_threshold: tau in [0, 1).
        every_component: True to box every contour (v2), False the one of largest area (v1).

    Returns:
        (N, 4) ``x, y, w, h`` boxes (N >= 1) whose pixels are the reference's inclusive box.
    """
    return component_boxes(normalized, cam_threshold)[2 if every_component else 1]


def _image_correct(
    heatmap: Any, ground_truth: Any, cam_thresholds: np.ndarray, versions: Sequence[int], image: str
) -> dict[int, np.ndarray]:
    """Per version, (D, T) bool: whether one image is correctly localised at each (delta, tau)."""
    lesions = as_xywh_boxes(ground_truth, f"ground-truth boxes of {image}")
    if lesions.shape[0] == 0:
        raise ValueError(f"{image} has no ground-truth box; MaxBoxAcc evaluates images with at least one box")
    normalized = normalize_heatmap(heatmap, image)
    best_iou = {version: np.empty(len(cam_thresholds)) for version in versions}
    for index, tau in enumerate(cam_thresholds):
        boxes = component_boxes(normalized, tau)
        for version in versions:
            best_iou[version][index] = xywh_iou(boxes[version], lesions).max()
    return {
        version: best_iou[version][None, :] >= np.asarray(IOU_THRESHOLDS_BY_VERSION[version])[:, None]
        for version in versions
    }


def _curves(correct: np.ndarray, cam_thresholds: np.ndarray, iou_thresholds: np.ndarray) -> MaxBoxAccuracyCurves:
    """Reduce per-image flags, correct (I, D, T)."""
    box_accuracy = correct.mean(axis=0)
    best = np.argmax(box_accuracy, axis=1)
    max_box_accuracy = box_accuracy.max(axis=1)
    return MaxBoxAccuracyCurves(
        cam_thresholds=cam_thresholds,
        iou_thresholds=iou_thresholds,
        box_accuracy=box_accuracy,
        max_box_accuracy=max_box_accuracy,
        best_cam_thresholds=cam_thresholds[best],
        value=float(max_box_accuracy.mean()),
    )


def compute_box_accuracy_curves_by_version(
    heatmaps: Sequence[Any],
    ground_truth_boxes: Sequence[Any],
    versions: Sequence[int] = (1, 2),
    cam_thresholds: Any = DEFAULT_CAM_THRESHOLDS,
) -> dict[int, MaxBoxAccuracyCurves]:
    """BoxAcc curves and MaxBoxAcc of a set of images for several versions, binarising each map once per tau.

    Args:
        heatmaps: per image, an (H_i, W_i) or (1, H_i, W_i) map (a (B, 1, H, W) tensor works too).
        ground_truth_boxes: per image, an (M_i, 4) array/tensor of ``x, y, w, h`` boxes, M_i >= 1.
        versions: among 1 (largest contour, delta 0.5) and 2 (every contour, delta 0.3/0.5/0.7).
        cam_thresholds: the tau grid, values in [0, 1).

    Returns:
        version -> the curves and the reported value.
    """
    setups = {version: _check_setup(version, cam_thresholds) for version in versions}
    if not setups:
        raise ValueError("versions must name at least one MaxBoxAcc version (1 or 2)")
    if len(heatmaps) != len(ground_truth_boxes):
        raise ValueError(f"heatmaps covers {len(heatmaps)} images but ground_truth_boxes {len(ground_truth_boxes)}")
    if len(heatmaps) == 0:
        raise ValueError("MaxBoxAcc needs at least one image")
    grid = setups[versions[0]][0]
    correct = [
        _image_correct(h, g, grid, versions, f"image {i}") for i, (h, g) in enumerate(zip(heatmaps, ground_truth_boxes))
    ]
    return {
        version: _curves(np.stack([flags[version] for flags in correct]), grid, iou_thresholds)
        for version, (_, iou_thresholds) in setups.items()
    }


def compute_box_accuracy_curves(
    heatmaps: Sequence[Any],
    ground_truth_boxes: Sequence[Any],
    version: int = 2,
    cam_thresholds: Any = DEFAULT_CAM_THRESHOLDS,
) -> MaxBoxAccuracyCurves:
    """BoxAcc curves and MaxBoxAcc of a set of images.

    Args:
        heatmaps: per image, an (H_i, W_i) or (1, H_i, W_i) map (a (B, 1, H, W) tensor works too).
        ground_truth_boxes: per image, an (M_i, 4) array/tensor of ``x, y, w, h`` boxes, M_i >= 1.
        version: 1 (largest contour, delta 0.5) or 2 (every contour, delta 0.3/0.5/0.7).
        cam_thresholds: the tau grid, values in [0, 1).

    Returns:
        the curves and the reported value.
    """
    return compute_box_accuracy_curves_by_version(heatmaps, ground_truth_boxes, (version,), cam_thresholds)[version]


def compute_max_box_accuracy(
    heatmaps: Sequence[Any],
    ground_truth_boxes: Sequence[Any],
    version: int = 2,
    cam_thresholds: Any = DEFAULT_CAM_THRESHOLDS,
) -> float:
    """MaxBoxAcc (v1 or v2) in [0, 1]; see :func:`compute_box_accuracy_curves`."""
    return compute_box_accuracy_curves(heatmaps, ground_truth_boxes, version, cam_thresholds).value


class MaxBoxAccuracyMetric(CumulativeIterationMetric):
    """MaxBoxAcc accumulated over iterations; see :func:`compute_box_accuracy_curves`.

    Call it with ``y_pred`` the heatmaps, a (B, 1, H, W) tensor or a list of (1, H, W) tensors, and ``y``
    the ground-truth boxes, a list of (M_i, 4) ``x, y, w, h`` tensors or a (B, M, 4) tensor. Each image is
    reduced at once to its (D, T) correctness flags, so the buffers all-gather under DDP.

    Args:
        version: 1 or 2.
        cam_thresholds: the tau grid, values in [0, 1).
    """

    def __init__(self, version: int = 2, cam_thresholds: Any = DEFAULT_CAM_THRESHOLDS) -> None:
        super().__init__()
        self.cam_thresholds, self.iou_thresholds = _check_setup(version, cam_thresholds)
        self.version = version

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Per-image flags of a batch.

        Args:
            y_pred: (B, 1, H, W) heatmaps.
            y: (B, M, 4) ground-truth boxes.

        Returns:
            (B, D, T) int64, 1 where the image is correctly localised.
        """
        if y is None:
            raise ValueError("MaxBoxAccuracyMetric needs the ground-truth boxes y")
        if y_pred.ndim != 4 or y_pred.shape[1] != 1:
            raise ValueError(f"y_pred must be (B, 1, H, W) heatmaps, got shape {tuple(y_pred.shape)}")
        if y_pred.shape[0] != y.shape[0]:
            raise ValueError(f"y_pred covers {y_pred.shape[0]} images but y covers {y.shape[0]}")
        correct = [
            _image_correct(h, g, self.cam_thresholds, (self.version,), f"batch image {i}")[self.version]
            for i, (h, g) in enumerate(zip(y_pred, y))
        ]
        return torch.as_tensor(np.stack(correct).astype(np.int64))

    def aggregate_curves(self) -> MaxBoxAccuracyCurves:
        """The curves over every image seen since the last ``reset()``."""
        correct = self.get_buffer()
        if correct is None:
            raise ValueError("MaxBoxAccuracyMetric has seen no images; call it on a batch before aggregate()")
        return _curves(correct.numpy(), self.cam_thresholds, self.iou_thresholds)

    def aggregate(self) -> float:  # type: ignore[override]
        """MaxBoxAcc over every image seen since the last ``reset()``."""
        return self.aggregate_curves().value
