"""Overlay: a heatmap blended on the image, with boxes, points, labels and scores.

The PNG has exactly the image's size. The heat is coloured with a matplotlib colour map and alpha-blended in
numpy; boxes, points and text are drawn with PIL's ``ImageDraw``. Drawing the same overlay through a
matplotlib figure took about 0.18 s per 500 px image, most of an inference stage's time, against a few
milliseconds here. Boxes follow :mod:`monai_weakloc.localize.region` (``(x0, y0, x1, y1)`` in pixels, pixel
``i`` spanning ``[i, i + 1)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import torch
from monai.config import NdarrayOrTensor, PathLike
from monai.utils import convert_to_numpy
from PIL import Image, ImageDraw, ImageFont

from monai_weakloc.report.geometry import restore_heatmap_geometry, validate_crop_box
from monai_weakloc.report.image_display import display_image

__all__ = ["write_overlay"]

def _field_of_view_mask(field_of_view: NdarrayOrTensor, size: tuple[int, int]) -> np.ndarray:
    """An (H, W) field-of-view mask as a bool array, checked against the image size."""
    if not isinstance(field_of_view, (np.ndarray, torch.Tensor)):
        raise TypeError(f"field_of_view must be a numpy array or a torch tensor, got {type(field_of_view).__name__}")
    if tuple(field_of_view.shape) != size:
        raise ValueError(f"field_of_view must have the image's shape (H, W) = {size}, got {tuple(field_of_view.shape)}")
    mask = convert_to_numpy(field_of_view)
    return mask if mask.dtype == bool else mask > 0.5


def _normalised(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Values scaled to [0, 1] between ``low`` and ``high`` (a constant range maps to 0)."""
    if high <= low:
        return np.zeros(values.shape)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def _caption(
    draw: ImageDraw.ImageDraw,
    position: tuple[float, float],
    labels: Sequence[str] | None,
    scores: Sequence[float] | None,
    index: int,
    colour: tuple[int, ...],
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
) -> None:
    """Write ``label score`` (two decimals) at ``position``, as far as either is given."""
    label = labels[index] if labels is not None else ""
    score = f"{scores[index]:.2f}" if scores is not None else ""
    text = " ".join(part for part in (label, score) if part)
    if text:
        draw.text(position, text, fill=colour, font=font)


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
    points: Sequence[Sequence[float]] = (),
    point_labels: Sequence[str] | None = None,
    point_scores: Sequence[float] | None = None,
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
        box_colour: matplotlib colour of boxes, points and their text.
        field_of_view: (H, W) mask in pixels of the image, true (or > 0.5) inside (the retina, the breast,
            the body; :func:`~monai_weakloc.report.geometry.restore_field_of_view` brings the network
            input's back); no heat is drawn outside it, and the colour range is fitted inside it.
        points: ``(x, y)`` points in pixels of the image, drawn as crosses in a circle (a small lesion stays
            visible inside the circle).
        point_labels: one text per point, or ``None``.
        point_scores: one score per point, or ``None``.

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
    for name, values in (("point_labels", point_labels), ("point_scores", point_scores)):
        if values is not None and len(values) != len(points):
            raise ValueError(f"{name} must give one value per point: {len(values)} for {len(points)} points")
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

    colours = matplotlib.colormaps[colormap](_normalised(np.ma.filled(heat, low), low, high))[..., :3]
    rgb = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels
    blended = np.where(np.ma.getmaskarray(heat)[..., None], rgb, (1.0 - alpha) * rgb + alpha * colours)
    canvas = Image.fromarray(np.round(np.clip(blended, 0.0, 1.0) * 255).astype(np.uint8), mode="RGB")
    draw = ImageDraw.Draw(canvas)
    font_pixels = max(8.0, min(height, width) / 32)
    line_width = max(1, round(font_pixels / 8))
    font = ImageFont.load_default(size=font_pixels)
    colour = tuple(round(255 * c) for c in matplotlib.colors.to_rgb(box_colour))
    for index, (bx0, by0, bx1, by1) in enumerate(boxes):
        draw.rectangle((bx0, by0, max(bx0, bx1 - 1), max(by0, by1 - 1)), outline=colour, width=line_width)
        _caption(draw, (bx0 + line_width, by0 + line_width), labels, scores, index, colour, font)
    radius = max(2.0, font_pixels / 3)
    for index, (px, py) in enumerate(points):
        draw.line((px - radius, py, px + radius, py), fill=colour, width=line_width)
        draw.line((px, py - radius, px, py + radius), fill=colour, width=line_width)
        draw.ellipse((px - 2 * radius, py - 2 * radius, px + 2 * radius, py + 2 * radius), outline=colour, width=line_width)
        _caption(draw, (px + radius, py + line_width), point_labels, point_scores, index, colour, font)
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(output, format="PNG", compress_level=1)
    return output
