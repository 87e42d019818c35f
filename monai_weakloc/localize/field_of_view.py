"""Keep localization inside the field of view (the retina, the breast, the body) that the preprocessing found.

The field of view arrives in the batch as a (B, 1, H, W) {0, 1} mask in network-input pixels (see
:mod:`monai_weakloc.transforms.field_of_view`). A localizer masks its maps before it takes maxima, points,
saliency arg-maxes or segmentation candidates from them (:func:`mask_outside_field_of_view`), and drops
points that fall outside (:func:`inside_field_of_view`).

Grid rule: a map cell lies inside the field of view when the mask covers it at least partly, that is when
any mask pixel overlapping the cell's footprint on the image is set. A coarse map (Zoom-in-Net's 14 x 14
A-Net maps on a 492 px input) has cells on the rim of the retina that hold retina and black border
together; lesions lie in such cells as well, so excluding them would forbid peaks along the whole rim.
Where the exact boundary matters (the region peaks of Zoom-in-Net), mask the map after resizing it to
the mask's grid, where the rule is exact.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import NdarrayOrTensor
from monai.utils import convert_to_tensor

from monai_weakloc.localize.region import validate_size

__all__ = ["field_of_view_batch", "field_of_view_on_grid", "inside_field_of_view", "mask_outside_field_of_view"]


def field_of_view_batch(field_of_view: NdarrayOrTensor, batch_size: int | None = None) -> torch.Tensor:
    """Check a batch of field-of-view masks and return them as a bool tensor (B, H, W).

    Args:
        field_of_view: (B, 1, H, W) or (B, H, W) array or tensor, true (or > 0.5) inside.
        batch_size: the B it must have; ``None`` accepts any.

    Raises:
        TypeError: when it is not an array or tensor.
        ValueError: on another shape, or another batch size.
    """
    if not isinstance(field_of_view, (np.ndarray, torch.Tensor)):
        raise TypeError(f"field_of_view must be a numpy array or a torch tensor, got {type(field_of_view).__name__}")
    masks = convert_to_tensor(field_of_view, track_meta=False)
    if masks.ndim == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    if masks.ndim != 3 or masks.numel() == 0:
        raise ValueError(f"field_of_view must have shape (B, 1, H, W) or (B, H, W), got {tuple(field_of_view.shape)}")
    if batch_size is not None and masks.shape[0] != batch_size:
        raise ValueError(f"field_of_view holds {masks.shape[0]} masks for a batch of {batch_size} maps")
    return masks if masks.dtype == torch.bool else masks > 0.5


def field_of_view_on_grid(field_of_view: NdarrayOrTensor, size: tuple[int, int]) -> torch.Tensor:
    """The field of view on a map grid: a cell is inside when the mask covers it at least partly.

    Cell ``i`` of ``h`` spans ``[i H / h, (i + 1) H / h)`` of the mask's ``H`` rows; adaptive max pooling over
    mask pixels ``floor(i H / h)`` to ``ceil((i + 1) H / h) - 1`` is exactly "any overlapping pixel is set",
    for grids coarser or finer than the mask (likewise for columns).

    Args:
        field_of_view: (B, 1, H, W) or (B, H, W) array or tensor.
        size: the grid (h, w).

    Returns:
        (B, h, w) bool tensor, on the mask's device.

    Raises:
        TypeError, ValueError: on a bad mask or size (see :func:`field_of_view_batch`).
    """
    grid = validate_size(size, "size")
    masks = field_of_view_batch(field_of_view)
    if tuple(masks.shape[-2:]) == grid:
        return masks
    return F.adaptive_max_pool2d(masks[:, None].to(torch.float32), grid)[:, 0] > 0.5


def mask_outside_field_of_view(
    maps: torch.Tensor, field_of_view: NdarrayOrTensor, fill: float = -math.inf
) -> torch.Tensor:
    """Set every map cell outside the field of view to ``fill``.

    With the default ``fill=-inf`` no maximum, peak or arg-max can lie outside; pass a finite value (a map's
    minimum inside, say) for a map that is shown or resized.

    Args:
        maps: (B, h, w) float tensor.
        field_of_view: (B, 1, H, W) or (B, H, W) mask, resized to (h, w) by :func:`field_of_view_on_grid`.
        fill: the value outside.

    Returns:
        (B, h, w) tensor of ``maps``'s dtype and device; ``maps`` is not modified.

    Raises:
        TypeError: when ``maps`` is not a tensor, or the mask not an array or tensor.
        ValueError: when ``maps`` is not (B, h, w) floating point, or on a bad mask.
    """
    if not isinstance(maps, torch.Tensor):
        raise TypeError(f"maps must be a torch tensor, got {type(maps).__name__}")
    if not maps.is_floating_point() or maps.ndim != 3:
        raise ValueError(f"maps must be a floating tensor of shape (B, h, w), got {maps.dtype} {tuple(maps.shape)}")
    field_of_view_batch(field_of_view, maps.shape[0])
    inside = field_of_view_on_grid(field_of_view, tuple(maps.shape[-2:])).to(maps.device)
    return maps.masked_fill(~inside, fill)


def inside_field_of_view(points: NdarrayOrTensor, field_of_view: NdarrayOrTensor) -> torch.Tensor:
    """Which points lie in the field of view: the mask pixel holding the point is set.

    Points follow :mod:`monai_weakloc.localize.region`: ``(x, y)`` with pixel ``(row, col)`` covering
    ``[col, col + 1) x [row, row + 1)``; a point outside the image (or not finite) is outside.

    Args:
        points: (n, 2) array or tensor of ``(x, y)`` in pixels of the mask.
        field_of_view: (H, W) mask, true (or > 0.5) inside.

    Returns:
        (n,) bool tensor on the points' device.

    Raises:
        TypeError: when an input is not an array or tensor.
        ValueError: when ``points`` is not (n, 2) or the mask not (H, W).
    """
    for name, value in (("points", points), ("field_of_view", field_of_view)):
        if not isinstance(value, (np.ndarray, torch.Tensor)):
            raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(value).__name__}")
    coordinates = convert_to_tensor(points, dtype=torch.float64, track_meta=False)
    if coordinates.ndim != 2 or coordinates.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2) of (x, y), got {tuple(points.shape)}")
    mask = convert_to_tensor(field_of_view, track_meta=False)
    if mask.ndim != 2 or mask.numel() == 0:
        raise ValueError(f"field_of_view must have shape (H, W), got {tuple(field_of_view.shape)}")
    mask = mask if mask.dtype == torch.bool else mask > 0.5
    height, width = mask.shape
    columns, rows = coordinates[:, 0].cpu(), coordinates[:, 1].cpu()
    on_image = torch.isfinite(columns) & torch.isfinite(rows)
    on_image &= (columns >= 0) & (columns < width) & (rows >= 0) & (rows < height)
    column_index = torch.where(on_image, columns, 0.0).floor().long()
    row_index = torch.where(on_image, rows, 0.0).floor().long()
    inside = on_image & mask.cpu()[row_index, column_index]
    return inside.to(coordinates.device)
