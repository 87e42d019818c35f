"""Overlay: a heatmap blended on the image, with a colour bar, boxes, points, labels and scores, and the truth.

The PNG holds the image at its own size and position (top-left), so every pixel coordinate of the image is one
of the PNG, and, with ``colour_bar``, a black strip appended on the right with the colour map's scale
(:func:`~monai_weakloc.report.colour_bar.colour_bar_strip`). The heat is coloured with a matplotlib colour map
and alpha-blended in numpy; boxes, points and text are drawn with PIL's ``ImageDraw``. Drawing the same overlay
through a matplotlib figure took about 0.18 s per 500 px image, most of an inference stage's time, against a
few milliseconds here. Boxes follow :mod:`monai_weakloc.localize.region` (``(x0, y0, x1, y1)`` in pixels,
pixel ``i`` spanning ``[i, i + 1)``).
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
from scipy import ndimage

from monai_weakloc.report.colour_bar import colour_bar_strip
from monai_weakloc.report.geometry import restore_heatmap_geometry, validate_crop_box
from monai_weakloc.report.image_display import display_image

__all__ = ["TRUTH_COLOUR", "score_texts", "write_overlay"]

TRUTH_COLOUR = "magenta"
"""The truth's colour (the predictions are lime, the heat follows the jet colour map, which has no magenta)."""

MOST_SCORE_DECIMALS = 6
"""Scores are written with 2 decimals, more (up to this many) where 2 would make distinct scores read alike."""


def _mask(mask: NdarrayOrTensor, size: tuple[int, int], name: str) -> np.ndarray:
    """An (H, W) mask as a bool array (true, or > 0.5, inside), checked against the image size."""
    if not isinstance(mask, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(mask).__name__}")
    if tuple(mask.shape) != size:
        raise ValueError(f"{name} must have the image's shape (H, W) = {size}, got {tuple(mask.shape)}")
    values = convert_to_numpy(mask)
    return values if values.dtype == bool else values > 0.5


def _normalised(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Values scaled to [0, 1] between ``low`` and ``high`` (a constant range maps to 0)."""
    if high <= low:
        return np.zeros(values.shape)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def score_texts(scores: Sequence[float]) -> list[str]:
    """The scores as written on an overlay: 2 decimals, or the fewest (up to 6) that keep distinct scores apart.

    Args:
        scores: the scores of one image's boxes (or points).

    Returns:
        one text per score; ``[0.9991, 0.9994]`` gives ``["0.9991", "0.9994"]``, not ``["1.00", "1.00"]``.
    """
    distinct = len({float(score) for score in scores})
    for decimals in range(2, MOST_SCORE_DECIMALS + 1):
        texts = [f"{score:.{decimals}f}" for score in scores]
        if len(set(texts)) == distinct:
            return texts
    return texts


def _kept_labels(
    labels: Sequence[str] | None,
    scores: Sequence[float] | None,
    point_labels: Sequence[str] | None,
    point_scores: Sequence[float] | None,
    max_labels: int | None,
) -> set[str] | None:
    """The labels whose detections are drawn: the ``max_labels`` with the best scores; ``None``: all."""
    best: dict[str, float] = {}
    for names, values in ((labels, scores), (point_labels, point_scores)):
        for index, name in enumerate(names or ()):
            score = float(values[index]) if values is not None else -np.inf
            best[name] = max(best.get(name, -np.inf), score)
    if max_labels is None or len(best) <= max_labels:
        return None
    ranked = sorted(best, key=lambda name: -best[name])  # stable: ties keep the order of appearance
    return set(ranked[:max_labels])


def _caption(
    draw: ImageDraw.ImageDraw,
    position: tuple[float, float],
    label: str | None,
    score: str | None,
    colour: tuple[int, ...],
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
) -> None:
    """Write ``label score`` at ``position``, as far as either is given, outlined in black to stay readable.

    A caption that would run over the image's right or bottom edge is moved left or up to end at it.
    """
    text = " ".join(part for part in (label, score) if part)
    if not text:
        return
    width, height = draw.im.size
    _, _, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=1)
    x = max(0.0, min(position[0], width - right))
    y = max(0.0, min(position[1], height - bottom))
    draw.text((x, y), text, fill=colour, font=font, stroke_width=1, stroke_fill=(0, 0, 0))


def _drawn(
    count: int, labels: Sequence[str] | None, scores: Sequence[float] | None, kept: set[str] | None
) -> list[tuple[int, str | None, str | None]]:
    """The detections drawn, as ``(index, label, score text)``: those of the kept labels (and those without a
    label), their scores written as :func:`score_texts` tells the drawn ones apart."""
    indices = [
        index for index in range(count) if kept is None or labels is None or labels[index] in kept
    ]
    texts = score_texts([scores[index] for index in indices]) if scores is not None else [None] * len(indices)
    return [(index, labels[index] if labels is not None else None, text) for index, text in zip(indices, texts)]


def _draw_mask_outline(rgb: np.ndarray, mask: np.ndarray, colour: tuple[int, ...], line_width: int) -> None:
    """Colour the outline of an (H, W) bool mask, ``line_width`` pixels wide inside it, on an (H, W, 3) uint8 array."""
    outline = mask & ~ndimage.binary_erosion(mask, iterations=line_width, border_value=0)
    rgb[outline] = colour


def _draw_point(
    draw: ImageDraw.ImageDraw, point: Sequence[float], radius: float, colour: tuple[int, ...], line_width: int
) -> None:
    """A cross in a circle at ``(x, y)``: a small lesion stays visible inside the circle."""
    px, py = point
    draw.line((px - radius, py, px + radius, py), fill=colour, width=line_width)
    draw.line((px, py - radius, px, py + radius), fill=colour, width=line_width)
    draw.ellipse((px - 2 * radius, py - 2 * radius, px + 2 * radius, py + 2 * radius), outline=colour, width=line_width)


def _check_counts(name: str, values: Sequence | None, items: Sequence, what: str) -> None:
    """Raise ``ValueError`` unless ``values`` is ``None`` or gives one value per item (``what``: the items' name)."""
    if values is not None and len(values) != len(items):
        raise ValueError(f"{name} must give one value per item of {what}: {len(values)} {name} for {len(items)} {what}")


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
    truth_boxes: Sequence[Sequence[float]] = (),
    truth_labels: Sequence[str] | None = None,
    truth_points: Sequence[Sequence[float]] = (),
    truth_mask: NdarrayOrTensor | None = None,
    truth_colour: str = TRUTH_COLOUR,
    colour_bar: bool = True,
    max_labels: int | None = 3,
) -> Path:
    """Blend a heatmap on an image, draw the boxes, points and truth, and save a PNG with a colour bar.

    The image part of the PNG is the image at its size and position (top-left): a pixel ``(x, y)`` of the
    image is the PNG's pixel ``(x, y)``. With ``colour_bar`` a black strip is appended on its right (the PNG is
    (H, W + strip)), holding the colour map from ``low`` (bottom) to ``high`` (top) with both values written.

    Predictions (boxes, points) are drawn in ``box_colour`` with ``label score`` captions, kept inside the
    image; the scores of the boxes drawn (and of the points drawn) are written with 2 decimals, or with as many
    more as keep distinct scores apart (:func:`score_texts`). With many labels (a multi-label method draws boxes and a point for each of its
    classes) the overlay would be unreadable: only the detections of the ``max_labels`` labels with the best
    score (over their boxes and points) are drawn; the heat is drawn whatever the labels. The truth is drawn
    in ``truth_colour``: boxes with their labels below them, points as crosses in a circle, a mask as its
    outline; it is drawn first, so predictions stay on top.

    Args:
        image: (H, W), (1, H, W) or (3, H, W) array or tensor, shown min-max scaled.
        heatmap: (h, w) array or tensor, resized bilinearly to the image (or to ``crop_box``).
        path: the PNG file to write (parent folders are created).
        boxes: ``(x0, y0, x1, y1)`` boxes in pixels of the image.
        labels: one text per box, or ``None``.
        scores: one score per box, or ``None``.
        crop_box: ``(x0, y0, x1, y1)`` of the image the heatmap covers; the heatmap is drawn only there.
        alpha: opacity of the heatmap, in [0, 1].
        colormap: matplotlib colour map of the heatmap.
        value_range: ``(low, high)`` of the colour map; ``None`` uses the heatmap's minimum and maximum where
            it is drawn.
        box_colour: matplotlib colour of boxes, points and their text.
        field_of_view: (H, W) mask in pixels of the image, true (or > 0.5) inside (the retina, the breast,
            the body; :func:`~monai_weakloc.report.geometry.restore_field_of_view` brings the network
            input's back); no heat is drawn outside it (the image's pixels are left as they are), and the
            colour range is fitted inside it.
        points: ``(x, y)`` points in pixels of the image, drawn as crosses in a circle (a small lesion stays
            visible inside the circle).
        point_labels: one text per point, or ``None``.
        point_scores: one score per point, or ``None``.
        truth_boxes: the true ``(x0, y0, x1, y1)`` boxes in pixels of the image.
        truth_labels: one text per true box, or ``None``.
        truth_points: the true ``(x, y)`` points in pixels of the image.
        truth_mask: (H, W) true mask (true, or > 0.5, inside), drawn as its outline, or ``None``.
        truth_colour: matplotlib colour of the truth.
        colour_bar: append the colour bar strip.
        max_labels: draw the detections of at most this many labels (those with the best scores; without
            scores, the first ones found); ``None`` draws every label's.

    Returns:
        The path written.

    Raises:
        TypeError: when ``field_of_view`` or ``truth_mask`` is not an array or tensor.
        ValueError: on bad shapes (a field of view or truth mask of another size than the image's, too), a
            box or point count that differs from its labels' or scores', a bad ``alpha`` or ``max_labels``,
            or an unknown colour map.
    """
    pixels = display_image(image)
    height, width = pixels.shape[:2]
    _check_counts("labels", labels, boxes, "boxes")
    _check_counts("scores", scores, boxes, "boxes")
    _check_counts("point_labels", point_labels, points, "points")
    _check_counts("point_scores", point_scores, points, "points")
    _check_counts("truth_labels", truth_labels, truth_boxes, "truth_boxes")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    if max_labels is not None and max_labels < 1:
        raise ValueError(f"max_labels must be a positive int or None, got {max_labels!r}")
    if colormap not in matplotlib.colormaps:
        raise ValueError(f"colormap {colormap!r} is not a matplotlib colour map")
    heat = restore_heatmap_geometry(heatmap, (height, width), crop_box)
    outside = np.zeros(heat.shape, dtype=bool)
    if crop_box is not None:
        x0, y0, x1, y1 = validate_crop_box(crop_box, (height, width))
        outside[:] = True
        outside[y0:y1, x0:x1] = False
    if field_of_view is not None:
        outside |= ~_mask(field_of_view, (height, width), "field_of_view")
    truth_inside = None if truth_mask is None else _mask(truth_mask, (height, width), "truth_mask")
    if outside.any():
        heat = np.ma.masked_array(heat, mask=outside)
    shown = np.ma.compressed(heat)
    if value_range is not None:
        low, high = (float(value) for value in value_range)
    else:
        low, high = (float(shown.min()), float(shown.max())) if shown.size else (0.0, 1.0)

    colours = matplotlib.colormaps[colormap](_normalised(np.ma.filled(heat, low), low, high))[..., :3]
    rgb = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels
    blended = np.where(np.ma.getmaskarray(heat)[..., None], rgb, (1.0 - alpha) * rgb + alpha * colours)
    blended = np.round(np.clip(blended, 0.0, 1.0) * 255).astype(np.uint8)
    font_pixels = max(8.0, min(height, width) / 32)
    line_width = max(1, round(font_pixels / 8))
    font = ImageFont.load_default(size=font_pixels)
    colour = tuple(round(255 * c) for c in matplotlib.colors.to_rgb(box_colour))
    truth = tuple(round(255 * c) for c in matplotlib.colors.to_rgb(truth_colour))
    if truth_inside is not None:
        _draw_mask_outline(blended, truth_inside, truth, line_width)
    canvas = Image.fromarray(blended, mode="RGB")
    draw = ImageDraw.Draw(canvas)
    radius = max(2.0, font_pixels / 3)
    for index, (bx0, by0, bx1, by1) in enumerate(truth_boxes):
        draw.rectangle((bx0, by0, max(bx0, bx1 - 1), max(by0, by1 - 1)), outline=truth, width=line_width)
        label = truth_labels[index] if truth_labels is not None else None
        _caption(draw, (bx0 + line_width, by1 + line_width), label, None, truth, font)
    for point in truth_points:
        _draw_point(draw, point, radius, truth, line_width)
    kept = _kept_labels(labels, scores, point_labels, point_scores, max_labels)
    for index, label, score in _drawn(len(boxes), labels, scores, kept):
        bx0, by0, bx1, by1 = boxes[index]
        draw.rectangle((bx0, by0, max(bx0, bx1 - 1), max(by0, by1 - 1)), outline=colour, width=line_width)
        _caption(draw, (bx0 + line_width, by0 + line_width), label, score, colour, font)
    for index, label, score in _drawn(len(points), point_labels, point_scores, kept):
        px, py = points[index]
        _draw_point(draw, (px, py), radius, colour, line_width)
        _caption(draw, (px + radius, py + line_width), label, score, colour, font)
    if colour_bar:
        strip = colour_bar_strip(height, low, high, colormap, font)
        framed = Image.new("RGB", (width + strip.width, height))
        framed.paste(canvas, (0, 0))
        framed.paste(strip, (width, 0))
        canvas = framed
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(output, format="PNG", compress_level=1)
    return output
