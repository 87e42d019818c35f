"""Synthetic mediolateral-oblique mammograms with one planted abnormality of a MIAS class.

A square grayscale image: dark background, a half-elliptic breast attached to the chest-wall edge (left
or right), its tissue brightness set by the background class (``F`` fatty, ``G`` fatty-glandular, ``D``
dense-glandular) with a smooth texture fading towards the skin line, and a bright pectoral-muscle
triangle in the upper chest-wall corner. Abnormalities are centred at a given pixel and radius, and are
the brightest structure there once smoothed:

- ``CIRC``: well-defined bright disc; ``MISC``: ill-defined blob of three lobes around a core;
- ``SPIC``: bright core with radiating spicules; ``ARCH``: radiating spicules around a faint centre;
- ``ASYM``: broad asymmetric density (Gaussian);
- ``CALC``: cluster of tiny very bright dots concentrated around the centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from monai_weakloc.data.synthetic.drawing import (
    Window,
    blend,
    gaussian_spot,
    smooth_noise,
    soft_disc,
    to_uint8,
    window_around,
)

__all__ = [
    "MIAS_CLASSES",
    "MIAS_BACKGROUNDS",
    "BreastGeometry",
    "MammogramAbnormality",
    "sample_breast_geometry",
    "breast_tissue_mask",
    "place_abnormality",
    "render_mammogram",
]

MIAS_CLASSES = ("CALC", "CIRC", "SPIC", "MISC", "ARCH", "ASYM", "NORM")
MIAS_BACKGROUNDS = {"F": 0.36, "G": 0.47, "D": 0.58}
"""Background tissue class -> tissue brightness near the chest wall."""


@dataclass(frozen=True)
class BreastGeometry:
    """Where the breast lies in a square image, in pixels.

    Attributes:
        size: image width and height.
        chest_wall: ``left`` or ``right``, the edge the breast is attached to.
        centre_y: row of the breast's widest point.
        reach: how far the breast extends from the chest wall.
        half_height: half the breast's extent along the chest wall.
        pectoral_width: pectoral triangle's extent along the top edge.
        pectoral_height: pectoral triangle's extent down the chest wall.
    """

    size: int
    chest_wall: str
    centre_y: float
    reach: float
    half_height: float
    pectoral_width: float
    pectoral_height: float


@dataclass(frozen=True)
class MammogramAbnormality:
    """One abnormality: MIAS class code (not ``NORM``), centre column and row (from the top), radius in px."""

    class_code: str
    centre_x: int
    centre_row: int
    radius: int


def sample_breast_geometry(rng: np.random.Generator, size: int, chest_wall: str) -> BreastGeometry:
    """Draw the breast placement for a ``size`` x ``size`` image attached to the ``chest_wall`` edge.

    Raises:
        ValueError: ``chest_wall`` is not ``left`` or ``right``.
    """
    if chest_wall not in ("left", "right"):
        raise ValueError(f"chest_wall must be 'left' or 'right', got {chest_wall!r}")
    return BreastGeometry(
        size=size,
        chest_wall=chest_wall,
        centre_y=size * rng.uniform(0.5, 0.58),
        reach=size * rng.uniform(0.58, 0.75),
        half_height=size * rng.uniform(0.38, 0.45),
        pectoral_width=size * rng.uniform(0.2, 0.32),
        pectoral_height=size * rng.uniform(0.3, 0.45),
    )


def _coordinates(geometry: BreastGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance from the chest wall (1, W), row (H, 1) and normalised breast radius (H, W) of every pixel."""
    columns = np.arange(geometry.size, dtype=np.float32)[None, :]
    from_wall = columns if geometry.chest_wall == "left" else geometry.size - 1 - columns
    rows = np.arange(geometry.size, dtype=np.float32)[:, None]
    radius = np.sqrt((from_wall / geometry.reach) ** 2 + ((rows - geometry.centre_y) / geometry.half_height) ** 2)
    return from_wall, rows, radius


def _pectoral_alpha(geometry: BreastGeometry, from_wall: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Soft-edged pectoral triangle, shape (H, W) in [0, 1]."""
    inside = 1.0 - from_wall / geometry.pectoral_width - rows / geometry.pectoral_height
    return np.clip(inside * min(geometry.pectoral_width, geometry.pectoral_height) + 0.5, 0.0, 1.0)


def breast_tissue_mask(geometry: BreastGeometry) -> np.ndarray:
    """Bool (H, W) map of the breast tissue outside the pectoral muscle."""
    from_wall, rows, radius = _coordinates(geometry)
    return (radius < 1.0) & (_pectoral_alpha(geometry, from_wall, rows) < 0.5)


def place_abnormality(
    rng: np.random.Generator, geometry: BreastGeometry, class_code: str, radius: int
) -> MammogramAbnormality:
    """Random centre at least ``2 * radius + 2`` px inside the breast tissue (off the pectoral muscle and skin).

    The margin keeps the abnormality the brightest structure within twice its radius.

    Raises:
        ValueError: unknown or ``NORM`` class, or no room for the radius.
    """
    if class_code not in MIAS_CLASSES or class_code == "NORM":
        raise ValueError(f"abnormality class must be one of {MIAS_CLASSES[:-1]}, got {class_code!r}")
    tissue = breast_tissue_mask(geometry)
    depth = ndimage.distance_transform_edt(tissue)
    candidates = np.flatnonzero(depth >= 2 * radius + 2)
    if candidates.size == 0:
        raise ValueError(f"no room for an abnormality of radius {radius} px in a {geometry.size} px mammogram")
    row, column = divmod(int(rng.choice(candidates)), geometry.size)
    return MammogramAbnormality(class_code, column, row, radius)


def _spicule_alpha(rng: np.random.Generator, window: Window, x: float, y: float, radius: float) -> np.ndarray:
    """Thin lines radiating from (x, y) to about ``radius`` at roughly even angles, shape (h, w) in [0, 1]."""
    alpha = np.zeros((window.yy.shape[0], window.xx.shape[1]), dtype=np.float32)
    half_width = max(0.6, 0.04 * radius)
    count = int(rng.integers(8, 13))
    evenly = rng.uniform(0.0, 2.0 * math.pi) + 2.0 * math.pi * np.arange(count) / count
    for angle in evenly + rng.uniform(-0.2, 0.2, size=count):
        length = radius * rng.uniform(0.8, 1.0)
        along = (window.xx - x) * math.cos(angle) + (window.yy - y) * math.sin(angle)
        across = np.abs(-(window.xx - x) * math.sin(angle) + (window.yy - y) * math.cos(angle))
        line = np.clip(half_width - across + 0.5, 0.0, 1.0) * (along >= 0) * (along <= length)
        alpha = np.maximum(alpha, line * np.clip(1.0 - along / (1.2 * length), 0.0, 1.0))
    return alpha


def _paint_abnormality(rng: np.random.Generator, canvas: np.ndarray, abnormality: MammogramAbnormality) -> None:
    """Paint the abnormality onto the float canvas (H, W) in place."""
    x, y, radius = float(abnormality.centre_x), float(abnormality.centre_row), float(abnormality.radius)
    size = canvas.shape[0]
    window = window_around(x, y, radius + 2.0, size, size)
    core = gaussian_spot(window, x, y, radius / 2.0)
    code = abnormality.class_code
    if code == "CIRC":
        blend(canvas, window, 0.8 * soft_disc(window, x, y, radius), 0.88)
    elif code == "MISC":
        lobes = soft_disc(window, x, y, 0.6 * radius)
        for angle in rng.uniform(0.0, 2.0 * math.pi) + np.array([0.0, 2.0, 4.0]) * math.pi / 3.0:
            lobe_x, lobe_y = x + 0.45 * radius * math.cos(angle), y + 0.45 * radius * math.sin(angle)
            lobes = np.maximum(lobes, soft_disc(window, lobe_x, lobe_y, 0.5 * radius))
        blend(canvas, window, 0.75 * ndimage.gaussian_filter(lobes, sigma=max(0.5, radius / 8.0)), 0.86)
    elif code == "SPIC":
        blend(canvas, window, 0.7 * _spicule_alpha(rng, window, x, y, radius), 0.8)
        blend(canvas, window, 0.85 * soft_disc(window, x, y, 0.45 * radius), 0.9)
    elif code == "ARCH":
        blend(canvas, window, 0.75 * _spicule_alpha(rng, window, x, y, radius), 0.85)
        blend(canvas, window, 0.5 * gaussian_spot(window, x, y, radius / 4.0), 0.85)
    elif code == "ASYM":
        blend(canvas, window, 0.75 * core, 0.85)
    elif code == "CALC":
        dot_radius = max(1.0, 0.006 * size)
        count = int(rng.integers(8, 17))
        offsets = np.clip(rng.normal(0.0, radius / 2.5, size=(count, 2)), -0.8 * radius, 0.8 * radius)
        for dx, dy in [(0.0, 0.0), *offsets.tolist()]:
            blend(canvas, window, 0.95 * soft_disc(window, x + dx, y + dy, dot_radius), 1.0)
    canvas[window.rows, window.cols] += 0.1 * core


def render_mammogram(
    rng: np.random.Generator, geometry: BreastGeometry, background: str, abnormality: MammogramAbnormality | None
) -> np.ndarray:
    """Draw a mammogram, optionally with one abnormality.

    Args:
        rng: random generator; the same generator state gives the same image.
        geometry: breast placement from :func:`sample_breast_geometry`.
        background: tissue class, a key of ``MIAS_BACKGROUNDS``.
        abnormality: from :func:`place_abnormality`, or ``None`` for a normal image.

    Returns:
        uint8 array of shape (size, size).

    Raises:
        ValueError: unknown ``background``.
    """
    if background not in MIAS_BACKGROUNDS:
        raise ValueError(f"background must be one of {tuple(MIAS_BACKGROUNDS)}, got {background!r}")
    size = geometry.size
    from_wall, rows, radius = _coordinates(geometry)
    breast_alpha = np.clip((1.0 - radius) * 0.5 * geometry.reach + 0.5, 0.0, 1.0)
    coarse = smooth_noise(rng, size, size, max(2.0, 0.03 * size))
    texture = 0.05 * coarse + 0.02 * smooth_noise(rng, size, size, max(1.5, 0.008 * size))
    tissue = MIAS_BACKGROUNDS[background] * (1.0 - 0.45 * radius**3) + texture
    canvas = 0.03 + breast_alpha * (tissue - 0.03)
    pectoral = _pectoral_alpha(geometry, from_wall, rows)
    canvas = canvas * (1.0 - pectoral) + (0.72 + 0.5 * texture) * pectoral
    canvas = canvas.astype(np.float32)
    if abnormality is not None:
        _paint_abnormality(rng, canvas, abnormality)
    canvas = ndimage.gaussian_filter(canvas, sigma=max(0.4, 0.0008 * size))
    canvas += rng.normal(0.0, 0.006, size=canvas.shape).astype(np.float32)
    return to_uint8(canvas)
