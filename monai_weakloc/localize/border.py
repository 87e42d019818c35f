"""Border exclusion rule: ignore a fraction kappa of the width and height at each edge.

Fundus photographs and X-rays have bright rims and black borders that attract saliency; the saliency-crop
method ignores a margin of ``kappa * W`` columns and ``kappa * H`` rows at each edge. The margin in pixels
is ``round(kappa * W)`` and ``round(kappa * H)`` (Python's ``round``: halves go to the even integer).
Coordinates follow :mod:`monai_weakloc.localize.region`: a point is kept when ``margin_x <= x < W - margin_x``
and ``margin_y <= y < H - margin_y``, which keeps exactly the points on the pixels :func:`exclude_border`
leaves untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch
from monai.config import NdarrayOrTensor

from monai_weakloc.localize.region import Point, Region, validate_size

__all__ = ["border_margins", "exclude_border", "filter_border"]

Located = TypeVar("Located", Point, Region)


def border_margins(image_size: Sequence[int], kappa: float) -> tuple[int, int]:
    """Margins ``(rows, columns)`` ignored at each edge of an image of ``image_size`` (H, W).

    Raises:
        ValueError: when ``kappa`` is outside ``[0, 0.5)`` or the size is bad.
    """
    height, width = validate_size(image_size, "image_size")
    if not 0 <= kappa < 0.5:
        raise ValueError(f"kappa must lie in [0, 0.5), got {kappa!r}")
    return round(kappa * height), round(kappa * width)


def exclude_border(heatmap: NdarrayOrTensor, kappa: float) -> NdarrayOrTensor:
    """Zero the border of a heatmap.

    Args:
        heatmap: (..., H, W) array or tensor.
        kappa: fraction of H and of W ignored at each edge, in ``[0, 0.5)``.

    Returns:
        A copy of ``heatmap``, same type and shape, zero within the margins.
    """
    if heatmap.ndim < 2:
        raise ValueError(f"heatmap must have shape (..., H, W), got {tuple(heatmap.shape)}")
    margin_rows, margin_cols = border_margins(tuple(heatmap.shape[-2:]), kappa)
    kept = heatmap.clone() if isinstance(heatmap, torch.Tensor) else np.array(heatmap, copy=True)
    kept[..., :margin_rows, :] = 0
    kept[..., heatmap.shape[-2] - margin_rows :, :] = 0
    kept[..., :, :margin_cols] = 0
    kept[..., :, heatmap.shape[-1] - margin_cols :] = 0
    return kept


def filter_border(items: Sequence[Located], image_size: Sequence[int], kappa: float) -> list[Located]:
    """Keep the points or regions whose location ``(x, y)`` lies outside the border margins.

    A region is judged by its location (its peak), not by its box.

    Args:
        items: points or regions in pixels of an image of ``image_size``.
        image_size: (H, W) of that image.
        kappa: fraction of H and of W ignored at each edge, in ``[0, 0.5)``.

    Returns:
        The kept items, in their order.
    """
    height, width = validate_size(image_size, "image_size")
    margin_rows, margin_cols = border_margins((height, width), kappa)
    return [
        item
        for item in items
        if margin_cols <= item.x < width - margin_cols and margin_rows <= item.y < height - margin_rows
    ]
