"""Numpy drawing primitives shared by the synthetic image generators.

Images are float32 canvases in [0, 1], shape (H, W) for grayscale or (H, W, 3) for RGB, drawn with
anti-aliased shapes in small windows so that a 1024 px image costs little more than a 128 px one.
Nothing here draws anatomy; the fundus, chest and mammogram modules compose these shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = [
    "Window",
    "window_around",
    "soft_disc",
    "gaussian_spot",
    "blend",
    "alpha_box",
    "mask_box",
    "smooth_noise",
    "trace_curve",
    "distance_to_curves",
    "to_uint8",
]


@dataclass(frozen=True)
class Window:
    """A rectangular part of a canvas with its pixel-centre coordinates.

    Attributes:
        rows: row slice into the canvas.
        cols: column slice into the canvas.
        yy: float32 array of shape (h, 1), row coordinates of the window's pixels.
        xx: float32 array of shape (1, w), column coordinates of the window's pixels.
    """

    rows: slice
    cols: slice
    yy: np.ndarray
    xx: np.ndarray


def window_around(centre_x: float, centre_y: float, extent: float, height: int, width: int) -> Window:
    """Window covering the square of half-side ``extent`` around a point, clipped to the canvas.

    Args:
        centre_x: column of the centre in pixels.
        centre_y: row of the centre in pixels.
        extent: half-side of the square in pixels.
        height: canvas height H.
        width: canvas width W.
    """
    top = max(0, int(math.floor(centre_y - extent - 1)))
    bottom = min(height, int(math.ceil(centre_y + extent + 2)))
    left = max(0, int(math.floor(centre_x - extent - 1)))
    right = min(width, int(math.ceil(centre_x + extent + 2)))
    top, left = min(top, bottom), min(left, right)
    yy = np.arange(top, bottom, dtype=np.float32)[:, None]
    xx = np.arange(left, right, dtype=np.float32)[None, :]
    return Window(slice(top, bottom), slice(left, right), yy, xx)


def soft_disc(window: Window, centre_x: float, centre_y: float, radius: float) -> np.ndarray:
    """Anti-aliased disc: 1 inside, 0 outside, a one-pixel linear ramp at the edge.

    Returns:
        float32 array of the window's shape (h, w) in [0, 1].
    """
    distance = np.sqrt((window.xx - centre_x) ** 2 + (window.yy - centre_y) ** 2)
    return np.clip(radius - distance + 0.5, 0.0, 1.0).astype(np.float32)


def gaussian_spot(window: Window, centre_x: float, centre_y: float, sigma: float) -> np.ndarray:
    """Isotropic Gaussian with peak 1 at the centre.

    Returns:
        float32 array of the window's shape (h, w) in [0, 1].
    """
    squared = (window.xx - centre_x) ** 2 + (window.yy - centre_y) ** 2
    return np.exp(-0.5 * squared / (sigma * sigma)).astype(np.float32)


def blend(canvas: np.ndarray, window: Window, alpha: np.ndarray, value: float | np.ndarray) -> None:
    """Paint ``value`` over the canvas window with opacity ``alpha``, in place.

    Args:
        canvas: float32 array of shape (H, W) or (H, W, C).
        window: where ``alpha`` lies on the canvas.
        alpha: opacity of shape (h, w) in [0, 1].
        value: a scalar, or for an (H, W, C) canvas an array of shape (C,).
    """
    region = canvas[window.rows, window.cols]
    weight = alpha[..., None] if region.ndim == 3 else alpha
    canvas[window.rows, window.cols] = region * (1.0 - weight) + np.asarray(value, dtype=np.float32) * weight


def mask_box(mask: np.ndarray, row_offset: int = 0, col_offset: int = 0) -> tuple[int, int, int, int]:
    """Tight box ``(x, y, w, h)`` in pixels around the true pixels of a mask.

    Args:
        mask: bool array of shape (h, w) with at least one true pixel.
        row_offset: row of the mask's first row on the canvas.
        col_offset: column of the mask's first column on the canvas.

    Raises:
        ValueError: when the mask is empty.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("cannot box an empty mask")
    return (
        int(cols[0]) + col_offset,
        int(rows[0]) + row_offset,
        int(cols[-1] - cols[0] + 1),
        int(rows[-1] - rows[0] + 1),
    )


def alpha_box(window: Window, alpha: np.ndarray, threshold: float = 0.5) -> tuple[int, int, int, int]:
    """Box ``(x, y, w, h)`` on the canvas around the window pixels where ``alpha >= threshold * max``."""
    return mask_box(alpha >= threshold * float(alpha.max()), window.rows.start, window.cols.start)


def smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Smooth random field with zero mean and unit standard deviation.

    White noise on a coarse grid of spacing ``cell`` pixels, interpolated to full size by a cubic spline
    (``scipy.ndimage.affine_transform``): cheaper than blurring full-size noise, whatever ``cell`` is.

    Returns:
        float32 array of shape (height, width).
    """
    cell = max(float(cell), 1.0)
    coarse = rng.standard_normal((int(math.ceil(height / cell)) + 3, int(math.ceil(width / cell)) + 3))
    field = ndimage.affine_transform(
        coarse, (1.0 / cell, 1.0 / cell), offset=1.0, output_shape=(height, width), order=3, mode="nearest"
    )
    field -= field.mean()
    spread = field.std()
    return (field / spread if spread > 0 else field).astype(np.float32)


def trace_curve(
    rng: np.random.Generator,
    start: tuple[float, float],
    heading: float,
    length: float,
    curvature: float,
    wobble: float = 0.03,
    step: float = 0.5,
) -> np.ndarray:
    """Smooth random curve: a walk whose heading turns by ``curvature`` per pixel plus a little noise.

    Args:
        rng: random generator.
        start: ``(x, y)`` of the first point.
        heading: initial direction in radians (image axes: x right, y down).
        length: arc length in pixels.
        curvature: turn per pixel of arc, radians.
        wobble: standard deviation of the heading's random drift, radians per square root of a pixel.
        step: distance between consecutive points in pixels.

    Returns:
        float64 array of shape (N, 2), the ``(x, y)`` points.
    """
    count = max(2, int(length / step))
    turns = curvature * step + wobble * math.sqrt(step) * rng.standard_normal(count)
    headings = heading + np.cumsum(turns)
    steps = step * np.stack([np.cos(headings), np.sin(headings)], axis=1)
    return np.asarray(start, dtype=np.float64)[None, :] + np.cumsum(steps, axis=0)


def distance_to_curves(curves: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """Euclidean distance from every pixel to the nearest curve point (points off the canvas ignored).

    Args:
        curves: arrays of shape (N, 2) of ``(x, y)`` points, spaced at most one pixel apart.
        height: canvas height H.
        width: canvas width W.

    Returns:
        float32 array of shape (H, W); ``inf`` everywhere when no point lies on the canvas.
    """
    centreline = np.zeros((height, width), dtype=bool)
    for points in curves:
        cols = np.rint(points[:, 0]).astype(np.int64)
        rows = np.rint(points[:, 1]).astype(np.int64)
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        centreline[rows[inside], cols[inside]] = True
    if not centreline.any():
        return np.full((height, width), np.inf, dtype=np.float32)
    return ndimage.distance_transform_edt(~centreline).astype(np.float32)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round a [0, 1] float image to uint8 (values outside [0, 1] are clipped)."""
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
