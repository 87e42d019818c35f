"""Synthetic colour fundus photographs with planted diabetic-retinopathy lesions.

An image is a dark frame with black borders around a bright orange-red retina disc (radius, centre,
exposure and gamma vary), shaded darker towards its rim, with a vessel tree of smooth dark-red curves
leaving the optic disc (two temporal arcades bending around the macula, two nasal vessels, branches), a
bright optic disc on the nasal side (the image's right for a right eye) and a darker macula near the
centre. Lesions are planted inside the retina, at least 1.6 disc radii from the optic disc centre and
wholly inside the image:

- ``microaneurysm``: tiny dark-red dot, radius ``max(1.5, 0.014 R)`` px (R: retina radius);
- ``haemorrhage``: larger dark-red blot of two or three overlapping discs, radius ``max(3, 0.05 R)``;
- ``hard_exudate``: small bright yellow spot, radius ``max(2, 0.022 R)``, often clustered near the macula;
- ``cotton_wool_spot``: pale fuzzy patch, radius ``max(4, 0.075 R)``.

Sizes vary by +-20 % per lesion but never fall below the minimum, so lesions stay a few pixels wide at
image sizes of 64-128 px. No single network has to separate them from the anatomy: the grade is a
function of the counts only (see :mod:`monai_weakloc.data.synthetic.fundus_grading`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from monai_weakloc.data.synthetic.drawing import (
    Window,
    alpha_box,
    blend,
    distance_to_curves,
    gaussian_spot,
    smooth_noise,
    soft_disc,
    to_uint8,
    trace_curve,
    window_around,
)

__all__ = [
    "LESION_KINDS",
    "EYES",
    "RetinaGeometry",
    "PlantedLesion",
    "SyntheticFundus",
    "sample_fundus_size",
    "sample_retina_geometry",
    "lesion_radius",
    "render_fundus",
]

LESION_KINDS = ("microaneurysm", "haemorrhage", "hard_exudate", "cotton_wool_spot")
EYES = ("left", "right")

_RETINA_RGB = np.array([0.86, 0.37, 0.15], dtype=np.float32)
_VESSEL_RGB = np.array([0.50, 0.10, 0.06], dtype=np.float32)
_DISC_RGB = np.array([1.00, 0.87, 0.58], dtype=np.float32)
_CUP_RGB = np.array([1.00, 0.96, 0.82], dtype=np.float32)
_LESION_RGB = {
    "microaneurysm": np.array([0.36, 0.04, 0.03], dtype=np.float32),
    "haemorrhage": np.array([0.40, 0.05, 0.04], dtype=np.float32),
    "hard_exudate": np.array([1.00, 0.93, 0.36], dtype=np.float32),
    "cotton_wool_spot": np.array([0.97, 0.89, 0.76], dtype=np.float32),
}
_RADIUS_RULE = {  # kind -> (minimum px, fraction of the retina radius)
    "microaneurysm": (1.5, 0.014),
    "haemorrhage": (3.0, 0.05),
    "hard_exudate": (2.0, 0.022),
    "cotton_wool_spot": (4.0, 0.075),
}
_PLACEMENT_TRIES = 400
_NON_OVERLAPPING_TRIES = 300


@dataclass(frozen=True)
class RetinaGeometry:
    """Where the anatomy of one fundus image lies, in pixels (x: column, y: row).

    Attributes:
        width: image width W.
        height: image height H.
        centre_x, centre_y: centre of the retina disc.
        radius: retina radius R (the disc may be cut by the top and bottom edges).
        disc_x, disc_y, disc_radius: optic disc.
        macula_x, macula_y: macula centre.
        eye: ``left`` or ``right``.
    """

    width: int
    height: int
    centre_x: float
    centre_y: float
    radius: float
    disc_x: float
    disc_y: float
    disc_radius: float
    macula_x: float
    macula_y: float
    eye: str


@dataclass(frozen=True)
class PlantedLesion:
    """One planted lesion.

    Attributes:
        kind: one of ``LESION_KINDS``.
        centre_x, centre_y: centre in pixels.
        extent: radius in pixels of the circle around the centre that holds the whole lesion.
        box: ``(x, y, w, h)`` in pixels around the lesion's visible footprint (its mask pixels).
    """

    kind: str
    centre_x: float
    centre_y: float
    extent: float
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class SyntheticFundus:
    """A rendered fundus image and its ground truth.

    Attributes:
        image: uint8 array of shape (H, W, 3), RGB.
        geometry: the anatomy's placement.
        lesions: every planted lesion, in planting order.
        lesion_masks: lesion kind -> bool array of shape (H, W), the union of that kind's footprints
            (all ``LESION_KINDS`` present, empty where none was planted).
        disc_mask: bool array of shape (H, W), the optic disc.
    """

    image: np.ndarray
    geometry: RetinaGeometry
    lesions: tuple[PlantedLesion, ...]
    lesion_masks: dict[str, np.ndarray]
    disc_mask: np.ndarray


def sample_fundus_size(rng: np.random.Generator, image_size: int) -> tuple[int, int]:
    """Image ``(width, height)``: width in [0.9, 1.3] x ``image_size``, height in [0.8, 1.0] x width."""
    width = int(round(image_size * rng.uniform(0.9, 1.3)))
    height = int(round(width * rng.uniform(0.8, 1.0)))
    return width, height


def sample_retina_geometry(
    rng: np.random.Generator,
    width: int,
    height: int,
    eye: str,
    radius_range: tuple[float, float] = (0.85, 1.05),
) -> RetinaGeometry:
    """Draw the retina, optic disc and macula placement for an image of the given size.

    Args:
        rng: random generator.
        width: image width W.
        height: image height H.
        eye: ``left`` or ``right``; the optic disc lies on the image's right for a right eye.
        radius_range: retina radius as a fraction of ``min(W, H) / 2``; above 1 the retina is cut by the
            image edges, as in many EyePACS and IDRiD photographs.

    Raises:
        ValueError: unknown ``eye``.
    """
    if eye not in EYES:
        raise ValueError(f"eye must be one of {EYES}, got {eye!r}")
    radius = 0.5 * min(width, height) * rng.uniform(*radius_range)
    centre_x = width / 2 + rng.uniform(-0.03, 0.03) * width
    centre_y = height / 2 + rng.uniform(-0.03, 0.03) * height
    nasal = 1.0 if eye == "right" else -1.0
    return RetinaGeometry(
        width=width,
        height=height,
        centre_x=centre_x,
        centre_y=centre_y,
        radius=radius,
        disc_x=centre_x + nasal * radius * rng.uniform(0.42, 0.5),
        disc_y=centre_y + radius * rng.uniform(-0.06, 0.06),
        disc_radius=radius * rng.uniform(0.12, 0.15),
        macula_x=centre_x - nasal * radius * rng.uniform(0.02, 0.1),
        macula_y=centre_y + radius * rng.uniform(-0.03, 0.05),
        eye=eye,
    )


def lesion_radius(kind: str, retina_radius: float) -> float:
    """Nominal radius in pixels of a lesion of ``kind`` in a retina of radius ``retina_radius``.

    Raises:
        ValueError: unknown ``kind``.
    """
    if kind not in _RADIUS_RULE:
        raise ValueError(f"lesion kind must be one of {LESION_KINDS}, got {kind!r}")
    minimum, fraction = _RADIUS_RULE[kind]
    return max(minimum, fraction * retina_radius)


def _clip_to_retina(points: np.ndarray, geometry: RetinaGeometry) -> np.ndarray:
    """Points of a curve up to the first one that leaves 97 % of the retina radius; shape (M, 2)."""
    distance = np.hypot(points[:, 0] - geometry.centre_x, points[:, 1] - geometry.centre_y)
    outside = np.flatnonzero(distance > 0.97 * geometry.radius)
    return points[: outside[0]] if outside.size else points


def _vessel_curves(rng: np.random.Generator, geometry: RetinaGeometry) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Centre lines of the main vessels and their branches, each an array of shape (N, 2) of (x, y)."""
    radius = geometry.radius
    start = (geometry.disc_x, geometry.disc_y)
    toward_macula = -1.0 if geometry.disc_x > geometry.macula_x else 1.0
    main: list[np.ndarray] = []
    for vertical in (-1.0, 1.0):
        length = radius * rng.uniform(1.0, 1.3)
        turn = math.radians(rng.uniform(60.0, 90.0)) * -vertical * toward_macula
        heading = math.atan2(vertical, toward_macula * 0.45)
        main.append(trace_curve(rng, start, heading, length, turn / length))
        length = radius * rng.uniform(0.5, 0.8)
        heading = math.atan2(vertical * 0.7, -toward_macula)
        turn = math.radians(rng.uniform(-25.0, 25.0))
        main.append(trace_curve(rng, start, heading, length, turn / length))
    main = [_clip_to_retina(points, geometry) for points in main]
    branches: list[np.ndarray] = []
    for points in main:
        if len(points) < 8:
            continue
        for position in rng.uniform(0.2, 0.85, size=int(rng.integers(2, 5))):
            index = int(position * (len(points) - 2))
            direction = points[index + 1] - points[index]
            spread = rng.choice([-1.0, 1.0]) * math.radians(rng.uniform(25.0, 55.0))
            heading = math.atan2(direction[1], direction[0]) + spread
            length = radius * rng.uniform(0.25, 0.5)
            turn = math.radians(rng.uniform(-40.0, 40.0))
            curve = trace_curve(rng, (float(points[index, 0]), float(points[index, 1])), heading, length, turn / length)
            branches.append(_clip_to_retina(curve, geometry))
    return main, branches


def _fits(geometry: RetinaGeometry, x: float, y: float, extent: float) -> bool:
    """Whether a lesion of radius ``extent`` at (x, y) lies in the retina, in the image and off the disc."""
    in_retina = math.hypot(x - geometry.centre_x, y - geometry.centre_y) <= 0.92 * geometry.radius - extent
    in_image = extent + 1 <= x <= geometry.width - 2 - extent and extent + 1 <= y <= geometry.height - 2 - extent
    off_disc = math.hypot(x - geometry.disc_x, y - geometry.disc_y) >= 1.6 * geometry.disc_radius + extent
    return in_retina and in_image and off_disc


def _place(
    rng: np.random.Generator,
    geometry: RetinaGeometry,
    extent: float,
    placed: list[PlantedLesion],
    focus: tuple[float, float, float] | None,
) -> tuple[float, float]:
    """Centre for a new lesion; avoids overlapping earlier lesions while it can.

    Args:
        focus: ``(x, y, spread)`` to draw every other try from a Gaussian around (x, y), or ``None``.

    Raises:
        RuntimeError: no position fits (cannot happen for radii from :func:`lesion_radius`).
    """
    for attempt in range(_PLACEMENT_TRIES):
        if focus is not None and attempt % 2 == 0:
            x, y = focus[0] + focus[2] * rng.standard_normal(), focus[1] + focus[2] * rng.standard_normal()
        else:
            distance = geometry.radius * math.sqrt(rng.random())
            angle = rng.uniform(0.0, 2.0 * math.pi)
            x, y = geometry.centre_x + distance * math.cos(angle), geometry.centre_y + distance * math.sin(angle)
        if not _fits(geometry, x, y, extent):
            continue
        crowded = any(
            math.hypot(x - other.centre_x, y - other.centre_y) < extent + other.extent + 1.0 for other in placed
        )
        if crowded and attempt < _NON_OVERLAPPING_TRIES:
            continue
        return x, y
    raise RuntimeError(f"no room for a lesion of radius {extent:.1f} px in a retina of radius {geometry.radius:.1f} px")


def _lesion_alpha(rng: np.random.Generator, kind: str, window: Window, x: float, y: float, radius: float) -> np.ndarray:
    """Opacity of one lesion over its window, shape (h, w) in [0, 1]."""
    if kind == "microaneurysm":
        return 0.95 * soft_disc(window, x, y, radius)
    if kind == "cotton_wool_spot":
        return 0.8 * gaussian_spot(window, x, y, radius / 2.0)
    lobes = int(rng.integers(2, 4)) if kind == "haemorrhage" else int(rng.integers(1, 3))
    alpha = np.zeros((window.yy.shape[0], window.xx.shape[1]), dtype=np.float32)
    for _ in range(lobes):
        lobe_radius = radius * rng.uniform(0.6, 0.85) if lobes > 1 else radius
        offset = (radius - lobe_radius) * math.sqrt(rng.random())
        angle = rng.uniform(0.0, 2.0 * math.pi)
        lobe = soft_disc(window, x + offset * math.cos(angle), y + offset * math.sin(angle), lobe_radius)
        alpha = np.maximum(alpha, lobe)
    return 0.92 * alpha


def _plant_lesions(
    rng: np.random.Generator,
    canvas: np.ndarray,
    geometry: RetinaGeometry,
    counts: Mapping[str, int],
) -> tuple[list[PlantedLesion], dict[str, np.ndarray]]:
    """Paint the lesions onto ``canvas`` (H, W, 3) in place; return them and their masks by kind."""
    height, width = canvas.shape[:2]
    masks = {kind: np.zeros((height, width), dtype=bool) for kind in LESION_KINDS}
    lesions: list[PlantedLesion] = []
    exudate_focus: tuple[float, float, float] | None = None
    if counts.get("hard_exudate", 0) > 0 and rng.random() < 0.5:
        exudate_focus = (geometry.macula_x, geometry.macula_y, 0.25 * geometry.radius)
    for kind in LESION_KINDS:
        nominal = lesion_radius(kind, geometry.radius)
        minimum = _RADIUS_RULE[kind][0]
        for _ in range(counts.get(kind, 0)):
            radius = max(minimum, nominal * rng.uniform(0.8, 1.2))
            focus = exudate_focus if kind == "hard_exudate" else None
            x, y = _place(rng, geometry, radius, lesions, focus)
            window = window_around(x, y, radius + 1.0, height, width)
            alpha = _lesion_alpha(rng, kind, window, x, y, radius)
            blend(canvas, window, alpha, _LESION_RGB[kind])
            threshold = 0.25 if kind == "cotton_wool_spot" else 0.5
            footprint = alpha >= threshold * float(alpha.max())
            masks[kind][window.rows, window.cols] |= footprint
            lesions.append(PlantedLesion(kind, x, y, radius, alpha_box(window, alpha, threshold)))
    return lesions, masks


def render_fundus(rng: np.random.Generator, geometry: RetinaGeometry, counts: Mapping[str, int]) -> SyntheticFundus:
    """Draw a fundus photograph with ``counts[kind]`` lesions of each kind.

    Args:
        rng: random generator; the same generator state gives the same image.
        geometry: anatomy placement from :func:`sample_retina_geometry`.
        counts: lesion kind -> number to plant (missing kinds: none).

    Raises:
        ValueError: unknown lesion kind or negative count in ``counts``.
    """
    for kind, count in counts.items():
        if kind not in LESION_KINDS or count < 0:
            raise ValueError(f"lesion counts must map {LESION_KINDS} to counts >= 0, got {kind!r}: {count}")
    height, width = geometry.height, geometry.width
    yy = np.arange(height, dtype=np.float32)[:, None]
    xx = np.arange(width, dtype=np.float32)[None, :]
    radial = np.sqrt((xx - geometry.centre_x) ** 2 + (yy - geometry.centre_y) ** 2) / geometry.radius
    retina_alpha = np.clip((1.0 - radial) * geometry.radius + 0.5, 0.0, 1.0)

    tint = _RETINA_RGB * (1.0 + rng.uniform(-0.08, 0.08, size=3).astype(np.float32))
    shading = (1.0 - 0.4 * radial**2) * (1.0 + 0.06 * smooth_noise(rng, height, width, 0.15 * geometry.radius))
    canvas = shading[..., None] * tint

    macula_sigma = 1.4 * geometry.disc_radius
    window = window_around(geometry.macula_x, geometry.macula_y, 4.0 * macula_sigma, height, width)
    darkening = 1.0 - 0.35 * gaussian_spot(window, geometry.macula_x, geometry.macula_y, macula_sigma)
    canvas[window.rows, window.cols] *= darkening[..., None]

    window = window_around(geometry.disc_x, geometry.disc_y, geometry.disc_radius + 1.0, height, width)
    disc_alpha = soft_disc(window, geometry.disc_x, geometry.disc_y, geometry.disc_radius)
    blend(canvas, window, 0.9 * disc_alpha, _DISC_RGB)
    cup_alpha = soft_disc(window, geometry.disc_x, geometry.disc_y, 0.45 * geometry.disc_radius)
    blend(canvas, window, 0.6 * cup_alpha, _CUP_RGB)
    disc_mask = np.zeros((height, width), dtype=bool)
    disc_mask[window.rows, window.cols] = disc_alpha >= 0.5

    main, branches = _vessel_curves(rng, geometry)
    full = window_around(width / 2, height / 2, max(width, height), height, width)
    for curves, half_width, opacity in (
        (main, max(0.9, 0.011 * geometry.radius), 0.8),
        (branches, max(0.6, 0.0065 * geometry.radius), 0.7),
    ):
        distance = distance_to_curves(curves, height, width)
        blend(canvas, full, opacity * np.clip(half_width - distance + 0.5, 0.0, 1.0), _VESSEL_RGB)

    lesions, lesion_masks = _plant_lesions(rng, canvas, geometry, counts)

    canvas = canvas * retina_alpha[..., None] + 0.012 * (1.0 - retina_alpha[..., None])
    canvas = np.clip(canvas * rng.uniform(0.75, 1.15), 0.0, 1.0) ** rng.uniform(0.75, 1.35)
    blur = max(0.35, 0.001 * width)
    canvas = ndimage.gaussian_filter(canvas, sigma=(blur, blur, 0.0))
    canvas += rng.normal(0.0, 0.006, size=canvas.shape).astype(np.float32)
    return SyntheticFundus(to_uint8(canvas), geometry, tuple(lesions), lesion_masks, disc_mask)
