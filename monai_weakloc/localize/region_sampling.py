"""Greedy region sampling on a heatmap (Zoom-in-Net).

Zoom-in-Net resizes the gated attention map to the size of the network input (492 px), repeatedly takes
the arg-max, records it and masks out the s x s square around it (s = 200), stopping after N = 4 regions
or when the remaining maximum falls below a threshold; the 384 px crops are then taken at the same
places on the 1230 px image. Here the map is resized to ``sampling_size`` (the paper's 492 px; ``mask_size``
is in those pixels) and the regions found there are scaled to ``target_size`` (the paper's 1230 px) with
the convention of :mod:`monai_weakloc.localize.region`. MONAI has no such sampler.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np
from monai.config import NdarrayOrTensor

from monai_weakloc.localize.field_of_view import mask_outside_field_of_view
from monai_weakloc.localize.heatmap import heatmap_batch, resize_heatmaps
from monai_weakloc.localize.region import Region, scale_region, validate_size

__all__ = ["sample_regions"]


def sample_regions(
    heatmap: NdarrayOrTensor,
    num_regions: int,
    mask_size: int | Sequence[int],
    threshold: float | None = None,
    sampling_size: Sequence[int] | None = None,
    target_size: Sequence[int] | None = None,
    field_of_view: NdarrayOrTensor | None = None,
) -> list[list[Region]]:
    """Pick up to ``num_regions`` regions per heatmap by arg-max and masking.

    Each step takes the arg-max of the remaining map (the first one in row-major order on ties), records
    it and masks the ``mask_size`` square around it: rows ``row - s_h // 2`` to ``row - s_h // 2 + s_h``
    (exclusive) and likewise for columns, clipped to the map. Sampling stops after ``num_regions`` regions,
    when the remaining maximum is below ``threshold``, or when the whole map (or field of view) is masked.

    Args:
        heatmap: (H, W) or (B, H, W) array or tensor.
        num_regions: the most regions per image (N), at least 1.
        mask_size: side s of the masked square, or (s_h, s_w), in pixels of ``sampling_size``.
        threshold: stop when the remaining maximum is below this value; ``None`` takes ``num_regions``.
        sampling_size: (H', W') the heatmap is bilinearly resized to before sampling; ``None`` keeps (H, W).
        target_size: (H_t, W_t) of the image the regions are reported on; ``None`` reports them on the
            sampling grid.
        field_of_view: (B, 1, H', W') or (B, H', W') mask on the sampling grid (a single (H, W) heatmap is a
            batch of one); no region is found outside it: the resized map is -inf there
            (:func:`~monai_weakloc.localize.field_of_view.mask_outside_field_of_view`; a mask of another
            size counts a grid pixel inside when the mask covers it partly). ``None``: the whole map.

    Returns:
        One list per image (a single one for an (H, W) input), in the order found. Each region's ``x, y`` is
        the arg-max pixel's centre, ``box`` the masked square, ``score`` the map's value at the arg-max after
        resizing, with coordinates in ``target_size`` pixels.

    Raises:
        ValueError: on a bad shape, a non-positive ``num_regions`` or ``mask_size``, a bad size or a mask whose
            batch differs from the heatmap's.
    """
    maps = heatmap_batch(heatmap)
    if isinstance(num_regions, bool) or not isinstance(num_regions, int) or num_regions < 1:
        raise ValueError(f"num_regions must be a positive int, got {num_regions!r}")
    mask_sides = (mask_size, mask_size) if isinstance(mask_size, Integral) else mask_size
    mask_h, mask_w = validate_size(mask_sides, "mask_size")
    grid_size = validate_size(sampling_size, "sampling_size") if sampling_size is not None else tuple(maps.shape[-2:])
    report_size = validate_size(target_size, "target_size") if target_size is not None else grid_size
    resized = resize_heatmaps(maps, grid_size)
    if field_of_view is not None:
        resized = mask_outside_field_of_view(resized, field_of_view)
    maps_np = resized.numpy().astype(np.float64)
    regions = []
    for single_map in maps_np:
        found = _sample_one(single_map, num_regions, mask_h, mask_w, threshold)
        regions.append([scale_region(region, grid_size, report_size) for region in found])
    return regions


def _sample_one(
    single_map: np.ndarray, num_regions: int, mask_h: int, mask_w: int, threshold: float | None
) -> list[Region]:
    """Greedy sampling on one (H, W) float64 map; coordinates on that map's grid."""
    remaining = single_map.copy()
    height, width = remaining.shape
    found: list[Region] = []
    while len(found) < num_regions:
        flat_index = int(np.argmax(remaining))
        row, col = divmod(flat_index, width)
        peak = remaining[row, col]
        if peak == -np.inf or (threshold is not None and peak < threshold):
            break
        row0, col0 = max(row - mask_h // 2, 0), max(col - mask_w // 2, 0)
        row1, col1 = min(row - mask_h // 2 + mask_h, height), min(col - mask_w // 2 + mask_w, width)
        remaining[row0:row1, col0:col1] = -np.inf
        box = (float(col0), float(row0), float(col1), float(row1))
        found.append(Region(x=col + 0.5, y=row + 0.5, box=box, score=float(peak)))
    return found
