"""Overlay: a heatmap blended on the image, with boxes, labels and scores, drawn with matplotlib (Agg).

The PNG has exactly the image's size: the figure is (W / 64, H / 64) inches at 64 dpi (a power of two, so
the pixel size is exact) with the axes filling it. Boxes follow :mod:`monai_weakloc.localize.region`
(``(x0, y0, x1, y1)`` in pixels, pixel ``i`` spanning ``[i, i + 1)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from monai.config import NdarrayOrTensor, PathLike
from monai.utils import convert_to_numpy

from monai_weakloc.report.geometry import restore_heatmap_geometry, validate_crop_box
from monai_weakloc.report.image_display import display_image

__all__ = ["write_overlay"]

OVERLAY_DPI = 64
POINTS_PER_INCH = 72


def _points(pixels: float) -> float:
    """Matplotlib points for a length in output pixels."""
    return pixels * POINTS_PER_INCH / OVERLAY_DPI


def _field_of_view_mask(field_of_view: NdarrayOrTensor, size: tuple[int, int]) -> np.ndarray:
    """An (H, W) field-of-view mask as a bool array, checked against the image size."""
    if not isinstance(field_of_view, (np.ndarray, torch.Tensor)):
        raise TypeError(f"field_of_view must be a numpy array or a torch tensor, got {type(field_of_view).__name__}")
    if tuple(field_of_view.shape) != size:
        raise ValueError(f"field_of_view must have the image's shape (H, W) = {size}, got {tuple(field_of_view.shape)}")
    mask = convert_to_numpy(field_of_view)
    return mask if mask.dtype == bool else mask > 0.5


def write_overlay(
    image: NdarrayOrTensor,
    heatmap: NdarrayOrTensor,
    path: PathLike,
    boxes: Sequence[Sequence[float]] = (),
    labels: Sequence[str] | None = None,
    scores: Sequence[float] | None = None,
    crop_box: Sequence[int] | None = None,
    alpha: float = 0.4,
    colormap: str = "jet",
    value_range: Sequence[float] | None = None,
    box_colour: str = "lime",
    field_of_view: NdarrayOrTensor | None = None,
) -> Path:
    """Blend a heatmap on an image, draw boxes with their labels and scores, and save a PNG of the image's size.

    Args:
        image: (H, W), (1, H, W) or (3, H, W) array or tensor, shown min-max scaled.
        heatmap: (h, w) array or tensor, resized bilinearly to the image (or to ``crop_box``).
        path: the PNG file to write (parent folders are created).
        boxes: ``(x0, y0, x1, y1)`` boxes in pixels of the image.
        labels: one text per box, or ``None``.
        scores: one score per box (written with two decimals), or ``None``.
        crop_box: ``(x0, y0, x1, y1)`` of the image the heatmap covers; the heatmap is drawn only there.
        alpha: opacity of the heatmap, in [0, 1].
        colormap: matplotlib colour map of the heatmap.
        value_range: ``(low, high)`` of the colour map; ``None`` uses the heatmap's minimum and maximum.
        box_colour: matplotlib colour of boxes and their text.
        field_of_view: (H, W) mask in pixels of the image, true (or > 0.5) inside (the retina, the breast,
            the body; :func:`~monai_weakloc.report.geometry.restore_field_of_view` brings the network
            input's back); no heat is drawn outside it, and the colour range is fitted inside it.

    Returns:
        The path written.

    Raises:
        TypeError: when ``field_of_view`` is not an array or tensor.
        ValueError: on bad shapes (a field of view of another size than the image's, too), a box count that
            differs from the labels' or scores', a bad ``alpha`` or an unknown colour map.
    """
    pixels = display_image(image)
    height, width = pixels.shape[:2]
    if labels is not None and len(labels) != len(boxes):
        raise ValueError(f"labels must give one text per box: {len(labels)} labels for {len(boxes)} boxes")
    if scores is not None and len(scores) != len(boxes):
        raise ValueError(f"scores must give one score per box: {len(scores)} scores for {len(boxes)} boxes")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    if colormap not in matplotlib.colormaps:
        raise ValueError(f"colormap {colormap!r} is not a matplotlib colour map")
    heat = restore_heatmap_geometry(heatmap, (height, width), crop_box)
    outside = np.zeros(heat.shape, dtype=bool)
    if crop_box is not None:
        x0, y0, x1, y1 = validate_crop_box(crop_box, (height, width))
        outside[:] = True
        outside[y0:y1, x0:x1] = False
    if field_of_view is not None:
        outside |= ~_field_of_view_mask(field_of_view, (height, width))
    if outside.any():
        heat = np.ma.masked_array(heat, mask=outside)
    shown = np.ma.compressed(heat)
    if value_range is not None:
        low, high = value_range
    else:
        low, high = (float(shown.min()), float(shown.max())) if shown.size else (0.0, 1.0)

    figure = Figure(figsize=(width / OVERLAY_DPI, height / OVERLAY_DPI), dpi=OVERLAY_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_axis_off()
    extent = (0, width, height, 0)
    image_colours = "gray" if pixels.ndim == 2 else None
    axes.imshow(pixels, cmap=image_colours, vmin=0, vmax=1, extent=extent, interpolation="nearest")
    axes.imshow(heat, cmap=colormap, alpha=alpha, vmin=low, vmax=high, extent=extent, interpolation="nearest")
    font_pixels = max(8.0, min(height, width) / 32)
    line_width = _points(max(1.0, font_pixels / 8))
    for index, (bx0, by0, bx1, by1) in enumerate(boxes):
        outline = Rectangle((bx0, by0), bx1 - bx0, by1 - by0, fill=False, edgecolor=box_colour, linewidth=line_width)
        axes.add_patch(outline)
        label = labels[index] if labels is not None else ""
        score = f"{scores[index]:.2f}" if scores is not None else ""
        text = " ".join(part for part in (label, score) if part)
        if text:
            axes.text(
                bx0, by0, text, color=box_colour, fontsize=_points(font_pixels), va="top", ha="left", clip_on=True
            )
    axes.set_xlim(0, width)
    axes.set_ylim(height, 0)
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=OVERLAY_DPI, format="png")
    return output
