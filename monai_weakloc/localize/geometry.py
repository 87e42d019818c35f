"""Network-input pixels to original-image pixels, through the border crop and the resize.

The loader records, for every image, its ``original_size`` (H, W) and the ``crop_box`` ``(x0, y0, x1, y1)``
that the border crop kept (see :mod:`monai_weakloc.transforms`); the crop was then resized to the network
input. These functions undo that for boxes and points; heatmaps and masks are mapped back by
:func:`monai_weakloc.report.geometry.restore_heatmap_geometry`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["input_boxes_to_original", "input_points_to_original"]


def _scales(input_size: Sequence[int], crop_box: Sequence[int]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in crop_box)
    return x0, y0, (x1 - x0) / float(input_size[1]), (y1 - y0) / float(input_size[0])


def input_boxes_to_original(boxes: np.ndarray, input_size: Sequence[int], crop_box: Sequence[int]) -> np.ndarray:
    """Map ``x, y, w, h`` boxes from the network input to the original image.

    The input was the crop ``crop_box = (x0, y0, x1, y1)`` of the original image, resized to ``input_size``.

    Args:
        boxes: (n, 4) ``x, y, w, h`` in input pixels.
        input_size: (H_in, W_in).
        crop_box: the crop in original pixels, exclusive ends.

    Returns:
        (n, 4) ``x, y, w, h`` in original pixels.
    """
    x0, y0, scale_x, scale_y = _scales(input_size, crop_box)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack(
        [boxes[:, 0] * scale_x + x0, boxes[:, 1] * scale_y + y0, boxes[:, 2] * scale_x, boxes[:, 3] * scale_y], axis=1
    )


def input_points_to_original(points: np.ndarray, input_size: Sequence[int], crop_box: Sequence[int]) -> np.ndarray:
    """Map ``x, y`` points (continuous coordinates, a pixel's centre at ``i + 0.5``) to the original image.

    Args:
        points: (n, 2) ``x, y`` in input pixels.
        input_size: (H_in, W_in).
        crop_box: the crop ``(x0, y0, x1, y1)`` in original pixels, exclusive ends.

    Returns:
        (n, 2) ``x, y`` in original pixels.
    """
    x0, y0, scale_x, scale_y = _scales(input_size, crop_box)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return np.stack([points[:, 0] * scale_x + x0, points[:, 1] * scale_y + y0], axis=1)
