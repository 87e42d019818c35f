"""The truth drawn in a second colour on an overlay the inference wrote: lesion boxes and mask outlines.

``overlays/<image>.png`` already shows the heat and the predicted boxes and points, the original image at its
size in its top-left corner (``docs/outputs.md``; a colour bar may follow on the right), so the truth, in pixels
of the original image too, is drawn straight on a copy of it with PIL's ``ImageDraw``: boxes as outlines with
their labels below them, a mask as its outline (inside it). The report needs no original image for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from monai_weakloc.report.overlay import TRUTH_COLOUR

__all__ = ["draw_truth"]


def _line_width(size: tuple[int, int]) -> tuple[int, float]:
    """Line width and font size in pixels for an (H, W) image, as the overlays choose them."""
    font_pixels = max(8.0, min(size) / 32)
    return max(1, round(font_pixels / 8)), font_pixels


def draw_truth(
    overlay: str | Path,
    path: str | Path,
    boxes: np.ndarray | None = None,
    labels: Sequence[str] | None = None,
    mask: np.ndarray | None = None,
    colour: str = TRUTH_COLOUR,
    max_labelled: int = 6,
) -> Path:
    """Draw truth boxes and a truth mask's outline on a copy of an overlay PNG.

    Args:
        overlay: the overlay PNG (or any image file) holding the original image in its top-left corner.
        path: the PNG to write (parent folders are created).
        boxes: (N, 4) ``x, y, w, h`` boxes in pixels of the original image, or ``None``.
        labels: one label per box, written below it, or ``None``.
        mask: (H, W) bool truth mask of the original image, or ``None``; its outline is drawn.
        colour: a matplotlib colour; by default the overlays' truth colour.
        max_labelled: write the labels only when the image has at most this many boxes (more would hide it).

    Returns:
        the path written.

    Raises:
        ValueError: when the boxes are not (N, 4), the labels do not match them, or the mask does not fit
            the overlay (naming the overlay).
    """
    with Image.open(overlay) as source:
        canvas = source.convert("RGB")
    size = (canvas.height, canvas.width)
    rgb = tuple(round(255 * c) for c in matplotlib.colors.to_rgb(colour))
    width, font_pixels = _line_width(size)
    if mask is not None:
        if mask.ndim != 2 or mask.shape[0] > size[0] or mask.shape[1] > size[1]:
            raise ValueError(f"{overlay}: truth mask of shape {mask.shape} does not fit the overlay's (H, W) {size}")
        inside = np.zeros(size, dtype=bool)
        inside[: mask.shape[0], : mask.shape[1]] = mask.astype(bool)
        pixels = np.asarray(canvas).copy()
        pixels[inside & ~ndimage.binary_erosion(inside, iterations=width, border_value=0)] = rgb
        canvas = Image.fromarray(pixels, mode="RGB")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=font_pixels)
    table = np.zeros((0, 4)) if boxes is None else np.asarray(boxes, dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 4:
        raise ValueError(f"{overlay}: truth boxes must be (N, 4) x, y, w, h, got shape {table.shape}")
    if labels is not None and len(labels) != len(table):
        raise ValueError(f"{overlay}: {len(labels)} truth labels for {len(table)} truth boxes")
    for index, (x, y, box_width, box_height) in enumerate(table):
        draw.rectangle((x, y, max(x, x + box_width - 1), max(y, y + box_height - 1)), outline=rgb, width=width)
        if labels is not None and len(table) <= max_labelled:
            draw.text(
                (x + width, y + box_height + width),
                labels[index],
                fill=rgb,
                font=font,
                stroke_width=1,
                stroke_fill=(0, 0, 0),
            )
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(output, format="PNG", compress_level=1)
    return output
