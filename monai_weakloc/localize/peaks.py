"""Heatmap to points: local maxima above a threshold, at least a minimum distance apart.

MONAI has no peak finder and scikit-image is not a dependency, hence this module (a maximum filter from
``scipy.ndimage`` and a greedy pass that also separates equal neighbouring peaks on plateaus).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from monai.config import NdarrayOrTensor
from scipy import ndimage

from monai_weakloc.localize.heatmap import heatmap_batch
from monai_weakloc.localize.region import Point, scale_point, validate_size

__all__ = ["heatmap_to_points"]


def heatmap_to_points(
    heatmap: NdarrayOrTensor,
    min_distance: int,
    threshold: float,
    max_points: int | None = None,
    target_size: Sequence[int] | None = None,
) -> list[list[Point]]:
    """Find the local maxima of a heatmap.

    A pixel is a peak when its value is ``>= threshold`` and no pixel within ``min_distance`` pixels (in
    the max-norm: the (2 d + 1) x (2 d + 1) window around it) is higher. Peaks are then taken in order of
    value (row-major order on ties), dropping any within ``min_distance`` of one already taken, so every
    two returned points are more than ``min_distance`` pixels apart along rows or columns.

    Args:
        heatmap: (H, W) or (B, H, W) array or tensor.
        min_distance: d, a non-negative int (0 keeps every pixel at or above the threshold).
        threshold: the lowest value of a peak.
        max_points: keep at most this many points per image (the highest); ``None`` keeps all.
        target_size: (H_t, W_t) of the image the points are reported on (coordinates are scaled from the
            heatmap's (H, W)); ``None`` reports them on the heatmap's grid.

    Returns:
        One list per image (a single one for an (H, W) input) of points at pixel centres, highest first.

    Raises:
        ValueError: on a bad shape, a negative ``min_distance``, a non-positive ``max_points`` or a bad size.
    """
    maps = heatmap_batch(heatmap).numpy().astype(np.float64)
    if isinstance(min_distance, bool) or not isinstance(min_distance, int) or min_distance < 0:
        raise ValueError(f"min_distance must be a non-negative int, got {min_distance!r}")
    if max_points is not None and (isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1):
        raise ValueError(f"max_points must be a positive int or None, got {max_points!r}")
    grid_size = tuple(maps.shape[-2:])
    report_size = validate_size(target_size, "target_size") if target_size is not None else grid_size
    points = []
    for single_map in maps:
        found = _local_maxima(single_map, min_distance, threshold, max_points)
        points.append([scale_point(point, grid_size, report_size) for point in found])
    return points


def _local_maxima(single_map: np.ndarray, min_distance: int, threshold: float, max_points: int | None) -> list[Point]:
    """Peaks of one (H, W) map, on its own grid."""
    window = 2 * min_distance + 1
    neighbourhood_max = ndimage.maximum_filter(single_map, size=window, mode="constant", cval=-np.inf)
    rows, cols = np.nonzero((single_map >= neighbourhood_max) & (single_map >= threshold))
    values = single_map[rows, cols]
    order = np.lexsort((cols, rows, -values))
    height, width = single_map.shape
    suppressed = np.zeros(single_map.shape, dtype=bool)
    found: list[Point] = []
    for index in order:
        row, col = int(rows[index]), int(cols[index])
        if suppressed[row, col]:
            continue
        suppressed[
            max(row - min_distance, 0) : min(row + min_distance + 1, height),
            max(col - min_distance, 0) : min(col + min_distance + 1, width),
        ] = True
        found.append(Point(x=col + 0.5, y=row + 0.5, score=float(values[index])))
        if max_points is not None and len(found) == max_points:
            break
    return found
