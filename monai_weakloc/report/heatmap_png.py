"""Write a heatmap as an 8-bit PNG in the original image geometry.

Written with Pillow from an (H, W) or (H, W, 3) uint8 array, so row y of the map is row y of the PNG.
MONAI's ``PILWriter`` is not used: it transposes by default (``reverse_indexing``) and clips to [0, 1]
rather than scaling a value range.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from monai.config import NdarrayOrTensor, PathLike
from PIL import Image

from monai_weakloc.report.geometry import restore_heatmap_geometry

__all__ = ["heatmap_to_uint8", "write_binary_mask_png", "write_heatmap_png"]


def heatmap_to_uint8(heatmap: np.ndarray, value_range: Sequence[float] | None = None) -> np.ndarray:
    """Scale a heatmap linearly to 0..255.

    Args:
        heatmap: (H, W) float array.
        value_range: ``(low, high)`` mapped to 0 and 255 (values outside are clipped); ``None`` uses the
            map's minimum and maximum. A constant map (``low == high``) gives zeros.

    Returns:
        (H, W) uint8 array.

    Raises:
        ValueError: when ``value_range`` is not two numbers with ``low <= high``.
    """
    low, high = (float(heatmap.min()), float(heatmap.max())) if value_range is None else value_range
    if low > high:
        raise ValueError(f"value_range must be (low, high) with low <= high, got {tuple(value_range)}")
    if high == low:
        return np.zeros(heatmap.shape, dtype=np.uint8)
    scaled = (np.clip(heatmap, low, high) - low) / (high - low)
    return np.round(scaled * 255).astype(np.uint8)


def write_heatmap_png(
    heatmap: NdarrayOrTensor,
    path: PathLike,
    original_size: Sequence[int] | None = None,
    crop_box: Sequence[int] | None = None,
    colormap: str | None = None,
    value_range: Sequence[float] | None = None,
) -> Path:
    """Write a heatmap as an 8-bit PNG, in the geometry of the original image.

    Args:
        heatmap: (h, w) array or tensor.
        path: the PNG file to write (parent folders are created).
        original_size: (H, W) of the original image; ``None`` keeps (h, w).
        crop_box: ``(x0, y0, x1, y1)`` of the original image the map covered (see
            :func:`~monai_weakloc.report.geometry.restore_heatmap_geometry`).
        colormap: a matplotlib colour map name (``"jet"``, ``"viridis"``) for an RGB PNG; ``None`` writes grayscale.
        value_range: ``(low, high)`` mapped to 0 and 255; ``None`` uses the restored map's minimum and maximum.

    Returns:
        The path written.

    Raises:
        ValueError: on a bad heatmap, size, box, range or colour map name.
    """
    levels = heatmap_to_uint8(restore_heatmap_geometry(heatmap, original_size, crop_box), value_range)
    if colormap is None:
        pixels = levels
    else:
        if colormap not in matplotlib.colormaps:
            raise ValueError(f"colormap {colormap!r} is not a matplotlib colour map")
        pixels = matplotlib.colormaps[colormap](levels, bytes=True)[..., :3]
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(output, format="PNG", compress_level=1)
    return output


def write_binary_mask_png(
    probability: NdarrayOrTensor,
    path: PathLike,
    threshold: float,
    original_size: Sequence[int] | None = None,
    crop_box: Sequence[int] | None = None,
) -> Path:
    """Write a probability map, thresholded, as a 0/255 PNG in the geometry of the original image.

    The map is first restored to the original image (bilinear resize into the crop, zero outside it), then
    a pixel is 255 where the restored probability is at least ``threshold``.

    Args:
        probability: (h, w) array or tensor of probabilities.
        path: the PNG file to write (parent folders are created).
        threshold: the foreground level, in [0, 1].
        original_size: (H, W) of the original image; ``None`` keeps (h, w).
        crop_box: ``(x0, y0, x1, y1)`` of the original image the map covered.

    Returns:
        The path written.

    Raises:
        ValueError: on a bad map, size, box or threshold.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}")
    restored = restore_heatmap_geometry(probability, original_size, crop_box)
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    binary = np.where(restored >= threshold, 255, 0).astype(np.uint8)
    Image.fromarray(binary).save(output, format="PNG", compress_level=1)
    return output
