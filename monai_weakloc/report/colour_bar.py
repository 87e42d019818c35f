"""A colour bar strip: the colour map's scale, from its low to its high value, to stand beside an overlay."""

from __future__ import annotations

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["colour_bar_strip", "scale_text"]

STRIP_BACKGROUND = (0, 0, 0)
TEXT_COLOUR = (255, 255, 255)


def scale_text(value: float) -> str:
    """A colour bar value with three significant digits (``0.5``, ``0.999``, ``12.3``, ``-4.1e+03``)."""
    return f"{value:.3g}"


def colour_bar_strip(
    height: int,
    low: float,
    high: float,
    colormap: str,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
) -> Image.Image:
    """A vertical strip, black, with the colour map as a bar (``high`` at the top) and both values beside it.

    The bar runs between the middles of the two values' lines, so each value is written level with the end
    of the bar it names; the strip is as narrow as the bar and the longer value allow.

    Args:
        height: the strip's height in pixels (the image's height).
        low: the value the colour map's first colour stands for.
        high: the value its last colour stands for.
        colormap: a matplotlib colour map name.
        font: the font of the values.

    Returns:
        an RGB image of (``height``, strip width).
    """
    texts = (scale_text(high), scale_text(low))
    draw_probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_width = max(draw_probe.textlength(text, font=font) for text in texts)
    text_top, text_bottom = font.getbbox("0.9")[1::2]
    text_height = text_bottom - text_top
    margin = max(2, round(text_height / 3))
    bar_width = max(4, round(text_height * 0.8))
    width = int(np.ceil(3 * margin + bar_width + text_width))
    top = min(margin + text_height // 2, height // 2)
    bottom = max(height - margin - text_height // 2, top + 1)
    length = min(bottom, height) - top
    colours = matplotlib.colormaps[colormap](np.linspace(1.0, 0.0, length))[:, :3]
    strip = np.zeros((height, width, 3), dtype=np.uint8)
    strip[...] = STRIP_BACKGROUND
    strip[top : top + length, margin : margin + bar_width] = np.round(colours * 255).astype(np.uint8)[:, None]
    image = Image.fromarray(strip, mode="RGB")
    draw = ImageDraw.Draw(image)
    text_x = 2 * margin + bar_width
    for text, y in zip(texts, (top, top + length - 1)):
        draw.text((text_x, y - text_top - text_height / 2), text, fill=TEXT_COLOUR, font=font)
    return image
