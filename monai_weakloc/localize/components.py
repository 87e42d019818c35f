"""Heatmap to boxes: threshold, connected components, one scored box per component.

MONAI's ``KeepLargestConnectedComponent`` and ``get_largest_connected_component_mask`` keep components but
give neither boxes nor scores, hence this module (components by ``scipy.ndimage.label``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from monai.config import NdarrayOrTensor
from scipy import ndimage

from monai_weakloc.localize.heatmap import heatmap_batch
from monai_weakloc.localize.region import Region, scale_region, validate_size

__all__ = ["heatmap_to_boxes"]

BOX_SCORES = ("max", "mean")


def heatmap_to_boxes(
    heatmap: NdarrayOrTensor,
    threshold: float,
    score: Literal["max", "mean"] = "max",
    connectivity: int = 2,
    target_size: Sequence[int] | None = None,
) -> list[list[Region]]:
    """Box every connected component of ``heatmap >= threshold``.

    Args:
        heatmap: (H, W) or (B, H, W) array or tensor.
        threshold: pixels with a value ``>= threshold`` are foreground.
        score: a box's score, the ``"max"`` or the ``"mean"`` of the heatmap over its component's pixels.
        connectivity: 1 joins pixels sharing an edge (4-neighbourhood), 2 also those sharing a corner (8).
        target_size: (H_t, W_t) of the image the boxes are reported on (coordinates are scaled from the
            heatmap's (H, W)); ``None`` reports them on the heatmap's grid.

    Returns:
        One list per image (a single one for an (H, W) input), sorted by score, highest first (ties keep the
        labelling order). Each region's ``box`` is the tight box of its component, ``x, y`` the centre of its
        highest pixel (the first in row-major order on ties).

    Raises:
        ValueError: on a bad shape, an unknown ``score`` or ``connectivity``, or a bad ``target_size``.
    """
    maps = heatmap_batch(heatmap).numpy().astype(np.float64)
    if score not in BOX_SCORES:
        raise ValueError(f"score must be one of {BOX_SCORES}, got {score!r}")
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 or 2, got {connectivity!r}")
    grid_size = tuple(maps.shape[-2:])
    report_size = validate_size(target_size, "target_size") if target_size is not None else grid_size
    structure = ndimage.generate_binary_structure(2, connectivity)
    boxes = []
    for single_map in maps:
        found = _component_boxes(single_map, threshold, score, structure)
        boxes.append([scale_region(region, grid_size, report_size) for region in found])
    return boxes


def _component_boxes(single_map: np.ndarray, threshold: float, score: str, structure: np.ndarray) -> list[Region]:
    """Scored boxes of the components of one (H, W) map, on its own grid."""
    labels, count = ndimage.label(single_map >= threshold, structure=structure)
    if count == 0:
        return []
    indices = np.arange(1, count + 1)
    slices = ndimage.find_objects(labels)
    peaks = ndimage.maximum_position(single_map, labels, indices)
    score_function = ndimage.maximum if score == "max" else ndimage.mean
    scores = score_function(single_map, labels, indices)
    found = [
        Region(
            x=peak[1] + 0.5,
            y=peak[0] + 0.5,
            box=(float(cols.start), float(rows.start), float(cols.stop), float(rows.stop)),
            score=float(component_score),
        )
        for (rows, cols), peak, component_score in zip(slices, peaks, np.atleast_1d(scores))
    ]
    return sorted(found, key=lambda region: -region.score)
