"""Synthetic frontal chest radiographs with planted findings (ChestX-ray14 labels and TB lesions).

Grayscale, dense = bright: a soft-tissue body on an air background, two dark lungs narrowing towards
the apices and cut below by the diaphragm domes (costophrenic angles), posterior ribs sloping down
laterally, the spine, and a bright heart bulging towards the image's right. Findings are painted in
the lungs (or, for the heart and hernia, the mediastinum); each returns the box it occupies:

- ``Nodule``: small bright disc; ``Mass``: large bright lobulated blob;
- ``Effusion``: bright basal fill with a meniscus rising laterally;
- ``Cardiomegaly``: heart wider than half the thorax (cardiothoracic ratio 0.56-0.64, else 0.42-0.48);
- ``Infiltration``: hazy patch; ``Consolidation``: dense sharp-edged patch; ``Pneumonia``: patchy cluster;
- ``Atelectasis``: plate-like dense band in a lower zone;
- ``Pneumothorax``: dark rim without lung markings along the apex and lateral wall, with a pleural line;
- ``Edema``: bilateral perihilar haze; ``Emphysema``: larger, darker lungs with flat domes;
- ``Fibrosis``: reticular lines in the lower periphery; ``Pleural_Thickening``: bright band along the wall;
- ``Hernia``: round retrocardiac opacity with an air bubble above the diaphragm;
- TB ``opacity`` (hazy upper-zone patch) and ``cavity`` (bright-walled ring with a dark centre).

Sizes scale with the image width, with minimums in pixels so that findings stay visible at 64-128 px.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from monai_weakloc.data.readers.chestxray14 import CHESTXRAY14_LABELS
from monai_weakloc.data.synthetic.drawing import (
    Window,
    blend,
    gaussian_spot,
    mask_box,
    smooth_noise,
    soft_disc,
    to_uint8,
    window_around,
)

__all__ = [
    "TB_FINDINGS",
    "LungShape",
    "ChestAnatomy",
    "PlantedFinding",
    "SyntheticRadiograph",
    "sample_chest_anatomy",
    "render_chest",
]

TB_FINDINGS = ("opacity", "cavity")

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class LungShape:
    """One lung: an ellipse cut below by a diaphragm dome, in pixels.

    Attributes:
        centre_x, centre_y: ellipse centre.
        half_width, half_height: ellipse semi-axes.
        dome_y: row of the top of the diaphragm dome (at ``centre_x``).
        dome_drop: how far the dome falls at the ellipse's left and right ends.
    """

    centre_x: float
    centre_y: float
    half_width: float
    half_height: float
    dome_y: float
    dome_drop: float


@dataclass(frozen=True)
class ChestAnatomy:
    """Placement of the anatomy of one radiograph, in pixels.

    Attributes:
        width, height: image size W, H.
        lungs: the image-left (patient's right) and image-right lungs.
        heart_x, heart_y, heart_half_width, heart_half_height: heart ellipse.
        spine_x: column of the spine.
        cardiomegaly: heart drawn wider than half the thorax.
        emphysema: lungs drawn hyperlucent.
    """

    width: int
    height: int
    lungs: tuple[LungShape, LungShape]
    heart_x: float
    heart_y: float
    heart_half_width: float
    heart_half_height: float
    spine_x: float
    cardiomegaly: bool
    emphysema: bool


@dataclass(frozen=True)
class PlantedFinding:
    """One planted finding: its label and ``(x, y, w, h)`` box in pixels."""

    label: str
    box: Box


@dataclass(frozen=True)
class SyntheticRadiograph:
    """A rendered radiograph: uint8 ``image`` of shape (H, W), its anatomy and planted findings (painting order)."""

    image: np.ndarray
    anatomy: ChestAnatomy
    findings: tuple[PlantedFinding, ...]


@dataclass(frozen=True)
class _LungField:
    """Per-pixel maps of one lung, each (H, W): ``mask`` (bool), ``alpha`` (soft edge), ``depth`` (px to its border)."""

    shape: LungShape
    mask: np.ndarray
    alpha: np.ndarray
    depth: np.ndarray


@dataclass(frozen=True)
class _Chest:
    """What a finding painter works on: the float canvas (H, W), painted in place, and the lungs."""

    canvas: np.ndarray
    anatomy: ChestAnatomy
    lungs: tuple[_LungField, _LungField]


def sample_chest_anatomy(
    rng: np.random.Generator, width: int, height: int, *, cardiomegaly: bool = False, emphysema: bool = False
) -> ChestAnatomy:
    """Draw lung, heart and spine placement for a W x H radiograph.

    Args:
        rng: random generator.
        width: image width W.
        height: image height H.
        cardiomegaly: draw a heart wider than half the thorax.
        emphysema: draw larger lungs with flattened domes.
    """
    spine_x = width * rng.uniform(0.49, 0.51)
    grow = 1.08 if emphysema else 1.0
    lungs = []
    for side in (-1.0, 1.0):
        half_width = width * rng.uniform(0.13, 0.155) * grow
        half_height = height * rng.uniform(0.28, 0.31) * grow
        centre_y = height * rng.uniform(0.44, 0.47)
        lungs.append(
            LungShape(
                centre_x=spine_x + side * width * rng.uniform(0.18, 0.2),
                centre_y=centre_y,
                half_width=half_width,
                half_height=half_height,
                dome_y=centre_y + half_height * (0.8 if emphysema else rng.uniform(0.62, 0.7)),
                dome_drop=half_height * (0.08 if emphysema else rng.uniform(0.2, 0.28)),
            )
        )
    left, right = lungs
    thorax_width = (right.centre_x + right.half_width) - (left.centre_x - left.half_width)
    ratio = rng.uniform(0.56, 0.64) if cardiomegaly else rng.uniform(0.42, 0.48)
    return ChestAnatomy(
        width=width,
        height=height,
        lungs=(left, right),
        heart_x=spine_x + width * rng.uniform(0.03, 0.05),
        heart_y=height * rng.uniform(0.62, 0.66),
        heart_half_width=0.5 * ratio * thorax_width,
        heart_half_height=height * rng.uniform(0.11, 0.13),
        spine_x=spine_x,
        cardiomegaly=cardiomegaly,
        emphysema=emphysema,
    )


def _lung_field(shape: LungShape, heart_alpha: np.ndarray) -> _LungField:
    """Mask, soft-edged opacity and depth maps of the part of one lung the heart (H, W) leaves visible."""
    height, width = heart_alpha.shape
    yy = np.arange(height, dtype=np.float32)[:, None]
    xx = np.arange(width, dtype=np.float32)[None, :]
    across = (xx - shape.centre_x) / shape.half_width
    ellipse = 1.0 - np.sqrt(across**2 + ((yy - shape.centre_y) / shape.half_height) ** 2)
    below_dome = (shape.dome_y + shape.dome_drop * across**2 - yy) / shape.half_height
    inside = np.minimum(ellipse, below_dome) * min(shape.half_width, shape.half_height)
    alpha = (np.clip(inside + 0.5, 0.0, 1.0) * (1.0 - heart_alpha)).astype(np.float32)
    mask = alpha >= 0.5
    return _LungField(shape, mask, alpha, ndimage.distance_transform_edt(mask).astype(np.float32))


def _pick_point(
    rng: np.random.Generator, lung: _LungField, margin: float, zone: np.ndarray | None = None
) -> tuple[int, int]:
    """Random ``(x, y)`` pixel of the lung at least ``margin`` px from its border (inside ``zone`` if given).

    Falls back to the deepest pixel of the lung (of the zone, if it has lung pixels) when none is that deep.
    """
    allowed = lung.mask if zone is None else lung.mask & zone
    if not allowed.any():
        allowed = lung.mask
    candidates = np.flatnonzero(allowed & (lung.depth >= margin))
    if candidates.size == 0:
        candidates = np.array([int(np.argmax(np.where(allowed, lung.depth, -1.0)))])
    row, col = divmod(int(rng.choice(candidates)), lung.mask.shape[1])
    return col, row


def _rows_above(height: int, width: int, row: float) -> np.ndarray:
    """Bool (H, W) map of the pixels above ``row``."""
    return np.broadcast_to(np.arange(height)[:, None] < row, (height, width))


def _add(chest: _Chest, window: Window, alpha: np.ndarray, amount: float) -> Box:
    """Brighten the window by ``amount * alpha``; return the box where alpha reaches 30 % of its peak."""
    chest.canvas[window.rows, window.cols] += amount * alpha
    return mask_box(alpha >= 0.3 * float(alpha.max()), window.rows.start, window.cols.start)


def _full_window(chest: _Chest) -> Window:
    """Window covering the whole canvas."""
    height, width = chest.canvas.shape
    return window_around(width / 2, height / 2, max(width, height), height, width)


def _random_lung(rng: np.random.Generator, chest: _Chest) -> _LungField:
    """Either lung, with equal chance."""
    return chest.lungs[int(rng.integers(2))]


def _paint_blob(rng: np.random.Generator, chest: _Chest, radius: float, lobes: int, amount: float) -> Box:
    """Bright blob of ``lobes`` overlapping discs of total radius ``radius`` in a random lung."""
    lung = _random_lung(rng, chest)
    x, y = _pick_point(rng, lung, radius + 1.0)
    height, width = chest.canvas.shape
    window = window_around(x, y, radius + 1.0, height, width)
    alpha = soft_disc(window, x, y, radius if lobes == 1 else 0.7 * radius)
    for _ in range(lobes - 1):
        angle = rng.uniform(0.0, 2.0 * math.pi)
        lobe = rng.uniform(0.45, 0.65) * radius
        offset = radius - lobe
        alpha = np.maximum(alpha, soft_disc(window, x + offset * math.cos(angle), y + offset * math.sin(angle), lobe))
    return _add(chest, window, alpha, amount)


def _paint_haze(
    rng: np.random.Generator,
    chest: _Chest,
    lung: _LungField,
    sigma: float,
    amount: float,
    zone: np.ndarray | None = None,
) -> Box:
    """Hazy Gaussian patch, mottled and confined to ``lung`` (centred in ``zone`` where possible)."""
    x, y = _pick_point(rng, lung, sigma, zone)
    height, width = chest.canvas.shape
    window = window_around(x, y, 2.5 * sigma, height, width)
    mottle = 0.75 + 0.25 * smooth_noise(rng, window.yy.shape[0], window.xx.shape[1], max(2.0, sigma / 3.0))
    alpha = gaussian_spot(window, x, y, sigma) * np.clip(mottle, 0.0, None) * lung.alpha[window.rows, window.cols]
    return _add(chest, window, alpha, amount)


def _paint_nodule(rng: np.random.Generator, chest: _Chest) -> Box:
    """Small bright disc."""
    return _paint_blob(rng, chest, max(2.0, rng.uniform(0.012, 0.02) * chest.anatomy.width), 1, 0.35)


def _paint_mass(rng: np.random.Generator, chest: _Chest) -> Box:
    """Large bright blob of three lobes."""
    return _paint_blob(rng, chest, max(4.0, rng.uniform(0.045, 0.075) * chest.anatomy.width), 3, 0.32)


def _paint_consolidation(rng: np.random.Generator, chest: _Chest) -> Box:
    """Dense sharp-edged patch of two lobes."""
    return _paint_blob(rng, chest, max(4.0, rng.uniform(0.05, 0.08) * chest.anatomy.width), 2, 0.3)


def _paint_infiltration(rng: np.random.Generator, chest: _Chest) -> Box:
    """Hazy mottled patch."""
    sigma = max(3.0, rng.uniform(0.035, 0.06) * chest.anatomy.width)
    return _paint_haze(rng, chest, _random_lung(rng, chest), sigma, 0.25)


def _paint_pneumonia(rng: np.random.Generator, chest: _Chest) -> Box:
    """Two or three hazy patches close together in one lung."""
    lung = _random_lung(rng, chest)
    sigma = max(2.5, rng.uniform(0.025, 0.04) * chest.anatomy.width)
    x, y = _pick_point(rng, lung, 2.0 * sigma)
    zone = np.zeros_like(lung.mask)
    zone[max(0, y - int(sigma)) : y + int(sigma) + 1, max(0, x - int(sigma)) : x + int(sigma) + 1] = True
    boxes = [_paint_haze(rng, chest, lung, sigma, 0.25, zone) for _ in range(int(rng.integers(2, 4)))]
    return _union(boxes)


def _union(boxes: Sequence[Box]) -> Box:
    """Smallest box holding all ``boxes``."""
    left = min(box[0] for box in boxes)
    top = min(box[1] for box in boxes)
    right = max(box[0] + box[2] for box in boxes)
    bottom = max(box[1] + box[3] for box in boxes)
    return left, top, right - left, bottom - top


def _paint_effusion(rng: np.random.Generator, chest: _Chest) -> Box:
    """Basal fluid level in one lung, rising towards the lateral wall."""
    lung = _random_lung(rng, chest)
    shape = lung.shape
    rows = np.flatnonzero(lung.mask.any(axis=1))
    lung_height = float(rows[-1] - rows[0])
    height, width = chest.canvas.shape
    window = _full_window(chest)
    lateral = np.sign(shape.centre_x - chest.anatomy.spine_x) * (window.xx - shape.centre_x) / shape.half_width
    level = rows[-1] - rng.uniform(0.2, 0.35) * lung_height - 0.15 * lung_height * np.clip(lateral, 0.0, None)
    softness = max(1.0, 0.01 * height)
    alpha = np.clip((window.yy - level) / softness + 0.5, 0.0, 1.0) * lung.alpha
    blend(chest.canvas, window, 0.9 * alpha, 0.55)
    return mask_box(alpha >= 0.5)


def _paint_cardiomegaly(rng: np.random.Generator, chest: _Chest) -> Box:
    """The heart is drawn wide by the anatomy; the finding's box is the heart's."""
    anatomy = chest.anatomy
    left = max(0, int(anatomy.heart_x - anatomy.heart_half_width))
    top = max(0, int(anatomy.heart_y - anatomy.heart_half_height))
    right = min(anatomy.width, int(math.ceil(anatomy.heart_x + anatomy.heart_half_width)))
    bottom = min(anatomy.height, int(math.ceil(anatomy.heart_y + anatomy.heart_half_height)))
    return left, top, right - left, bottom - top


def _paint_emphysema(rng: np.random.Generator, chest: _Chest) -> Box:
    """The lungs are drawn hyperlucent by the anatomy; the finding's box holds both lungs."""
    return mask_box(chest.lungs[0].mask | chest.lungs[1].mask)


def _paint_atelectasis(rng: np.random.Generator, chest: _Chest) -> Box:
    """Plate-like band, roughly horizontal, in the lower half of a lung."""
    lung = _random_lung(rng, chest)
    width = chest.anatomy.width
    length = max(5.0, rng.uniform(0.07, 0.11) * width)
    thickness = max(1.5, rng.uniform(0.012, 0.02) * width)
    height = chest.canvas.shape[0]
    x, y = _pick_point(rng, lung, thickness + 1.0, ~_rows_above(height, width, lung.shape.centre_y))
    angle = math.radians(rng.uniform(-25.0, 25.0))
    window = window_around(x, y, length + 1.0, height, width)
    along = (window.xx - x) * math.cos(angle) + (window.yy - y) * math.sin(angle)
    across = -(window.xx - x) * math.sin(angle) + (window.yy - y) * math.cos(angle)
    radial = np.sqrt((along / length) ** 2 + (across / thickness) ** 2)
    alpha = np.clip((1.0 - radial) * thickness + 0.5, 0.0, 1.0) * lung.alpha[window.rows, window.cols]
    return _add(chest, window, alpha, 0.3)


def _wall_zone(lung: _LungField, spine_x: float, width: int) -> np.ndarray:
    """Bool (H, W) map of the lung's upper half and lateral side (where pleural air and thickening show)."""
    shape = lung.shape
    height = lung.mask.shape[0]
    xx = np.arange(width, dtype=np.float32)[None, :]
    lateral = np.sign(shape.centre_x - spine_x) * (xx - shape.centre_x) > -0.3 * shape.half_width
    return lung.mask & _rows_above(height, width, shape.centre_y + 0.3 * shape.half_height) & lateral


def _paint_pneumothorax(rng: np.random.Generator, chest: _Chest) -> Box:
    """Dark, marking-free rim along the apex and lateral wall, bounded by a thin bright pleural line."""
    lung = _random_lung(rng, chest)
    width = chest.anatomy.width
    rim_width = max(3.0, rng.uniform(0.035, 0.06) * width)
    zone = _wall_zone(lung, chest.anatomy.spine_x, width)
    rim = zone & (lung.depth < rim_width)
    chest.canvas[rim] = 0.07
    pleural_line = zone & (np.abs(lung.depth - rim_width) < 0.8)
    chest.canvas[pleural_line] += 0.2
    return mask_box(rim | pleural_line)


def _paint_pleural_thickening(rng: np.random.Generator, chest: _Chest) -> Box:
    """Soft-tissue band along the apex and lateral wall of one lung."""
    lung = _random_lung(rng, chest)
    band = _wall_zone(lung, chest.anatomy.spine_x, chest.anatomy.width) & (
        lung.depth < max(2.5, rng.uniform(0.02, 0.03) * chest.anatomy.width)
    )
    chest.canvas[band] = 0.2 * chest.canvas[band] + 0.8 * 0.5
    return mask_box(band)


def _paint_edema(rng: np.random.Generator, chest: _Chest) -> Box:
    """Bilateral haze around both hila."""
    height, width = chest.canvas.shape
    window = _full_window(chest)
    alpha = np.zeros((height, width), dtype=np.float32)
    for lung in chest.lungs:
        shape = lung.shape
        hilum_x = shape.centre_x + 0.45 * (chest.anatomy.spine_x - shape.centre_x)
        alpha += gaussian_spot(window, hilum_x, shape.centre_y, 0.6 * shape.half_width) * lung.alpha
    return _add(chest, window, alpha, 0.2)


def _paint_fibrosis(rng: np.random.Generator, chest: _Chest) -> Box:
    """Reticular lines in the lower periphery of both lungs."""
    height, width = chest.canvas.shape
    window = _full_window(chest)
    fine = smooth_noise(rng, height, width, max(2.0, 0.012 * width))
    reticulum = np.clip(1.0 - np.abs(fine) / 0.3, 0.0, 1.0)
    alpha = np.zeros((height, width), dtype=np.float32)
    for lung in chest.lungs:
        shape = lung.shape
        across = (window.xx - shape.centre_x) / shape.half_width
        radial = np.sqrt(across**2 + ((window.yy - shape.centre_y) / shape.half_height) ** 2)
        lower_periphery = np.clip((radial - 0.4) / 0.3, 0.0, 1.0) * (window.yy > shape.centre_y)
        alpha += reticulum * lower_periphery * lung.alpha
    return _add(chest, window, alpha, 0.18)


def _paint_hernia(rng: np.random.Generator, chest: _Chest) -> Box:
    """Round retrocardiac opacity above the diaphragm with an air bubble in its upper part."""
    anatomy = chest.anatomy
    height, width = chest.canvas.shape
    radius = max(4.0, rng.uniform(0.04, 0.06) * width)
    x = anatomy.spine_x + rng.uniform(-0.02, 0.02) * width
    y = min(anatomy.heart_y + 0.6 * anatomy.heart_half_height, height - radius - 2.0)
    window = window_around(x, y, radius + 1.0, height, width)
    box = _add(chest, window, soft_disc(window, x, y, radius), 0.22)
    chest.canvas[window.rows, window.cols] -= 0.3 * soft_disc(window, x, y - 0.35 * radius, 0.4 * radius)
    return box


def _paint_tb_opacity(rng: np.random.Generator, chest: _Chest) -> Box:
    """Hazy patch in an upper zone."""
    lung = _random_lung(rng, chest)
    upper = _rows_above(*chest.canvas.shape, lung.shape.centre_y - 0.1 * lung.shape.half_height)
    return _paint_haze(rng, chest, lung, max(3.0, rng.uniform(0.03, 0.05) * chest.anatomy.width), 0.28, upper)


def _paint_tb_cavity(rng: np.random.Generator, chest: _Chest) -> Box:
    """Ring with a bright wall and a dark centre in an upper zone, in a little surrounding haze."""
    lung = _random_lung(rng, chest)
    height, width = chest.canvas.shape
    radius = max(3.0, rng.uniform(0.025, 0.045) * width)
    upper = _rows_above(height, width, lung.shape.centre_y - 0.1 * lung.shape.half_height)
    x, y = _pick_point(rng, lung, 1.6 * radius, upper)
    window = window_around(x, y, 1.6 * radius, height, width)
    haze = 0.12 * gaussian_spot(window, x, y, radius)
    wall = soft_disc(window, x, y, radius) - soft_disc(window, x, y, 0.6 * radius)
    chest.canvas[window.rows, window.cols] += haze + 0.3 * wall - 0.08 * soft_disc(window, x, y, 0.6 * radius)
    return mask_box(soft_disc(window, x, y, radius) >= 0.5, window.rows.start, window.cols.start)


_PAINTERS: dict[str, Callable[[np.random.Generator, _Chest], Box]] = {  # in painting order: diffuse, then focal
    "Cardiomegaly": _paint_cardiomegaly,
    "Emphysema": _paint_emphysema,
    "Edema": _paint_edema,
    "Fibrosis": _paint_fibrosis,
    "Effusion": _paint_effusion,
    "Pneumothorax": _paint_pneumothorax,
    "Pleural_Thickening": _paint_pleural_thickening,
    "Infiltration": _paint_infiltration,
    "Pneumonia": _paint_pneumonia,
    "Consolidation": _paint_consolidation,
    "Atelectasis": _paint_atelectasis,
    "opacity": _paint_tb_opacity,
    "cavity": _paint_tb_cavity,
    "Mass": _paint_mass,
    "Nodule": _paint_nodule,
    "Hernia": _paint_hernia,
}


def _draw_anatomy(rng: np.random.Generator, anatomy: ChestAnatomy) -> _Chest:
    """Body, lungs with markings and ribs, spine and heart on a float canvas (H, W)."""
    height, width = anatomy.height, anatomy.width
    yy = np.arange(height, dtype=np.float32)[:, None]
    xx = np.arange(width, dtype=np.float32)[None, :]
    body = np.sqrt(((xx - width / 2) / (0.48 * width)) ** 2 + ((yy - 0.58 * height) / (0.64 * height)) ** 2)
    body_alpha = np.clip((1.0 - body) * 0.05 * width + 0.5, 0.0, 1.0)
    canvas = 0.05 + body_alpha * (0.42 + 0.12 * yy / height)
    heart_across = (xx - anatomy.heart_x) / anatomy.heart_half_width
    heart = np.sqrt(heart_across**2 + ((yy - anatomy.heart_y) / anatomy.heart_half_height) ** 2)
    heart_alpha = np.clip((1.0 - heart) * anatomy.heart_half_height + 0.5, 0.0, 1.0)
    lungs = tuple(_lung_field(shape, heart_alpha) for shape in anatomy.lungs)
    lung_alpha = np.maximum(lungs[0].alpha, lungs[1].alpha)

    markings = 0.035 * smooth_noise(rng, height, width, max(2.0, 0.02 * width))
    slope = rng.uniform(0.25, 0.4)
    period = height * rng.uniform(0.06, 0.07)
    rib_phase = (yy - slope * np.abs(xx - anatomy.spine_x) - 0.4 * (xx - anatomy.spine_x) ** 2 / width) / period
    ribs = np.clip((np.cos(2.0 * math.pi * rib_phase) - 0.45) * 3.0, 0.0, 1.0) * (yy > 0.12 * height)
    lung_value = (0.13 if anatomy.emphysema else 0.2) + markings + 0.07 * ribs
    canvas = canvas * (1.0 - lung_alpha) + lung_value * lung_alpha

    spine = np.clip(0.045 * width - np.abs(xx - anatomy.spine_x) + 0.5, 0.0, 1.0)
    canvas += 0.12 * spine * (0.85 + 0.15 * np.cos(2.0 * math.pi * yy / (0.045 * height))) * body_alpha
    canvas = canvas * (1.0 - heart_alpha) + 0.6 * heart_alpha
    return _Chest(canvas.astype(np.float32), anatomy, lungs)


def render_chest(rng: np.random.Generator, anatomy: ChestAnatomy, findings: Sequence[str]) -> SyntheticRadiograph:
    """Draw a radiograph with the given findings planted.

    Findings are painted in a fixed order, diffuse ones before focal ones, whatever order they are given in;
    a label given twice is planted twice.
    ``Cardiomegaly`` and ``Emphysema`` only report their boxes; they are drawn through the anatomy
    (:func:`sample_chest_anatomy`), which must have been sampled with the matching flags.

    Args:
        rng: random generator; the same generator state gives the same image.
        anatomy: placement from :func:`sample_chest_anatomy`.
        findings: labels from ``CHESTXRAY14_LABELS`` or ``TB_FINDINGS``.

    Raises:
        ValueError: unknown finding, or ``Cardiomegaly``/``Emphysema`` asked of an anatomy drawn without it.
    """
    for label in findings:
        if label not in _PAINTERS:
            raise ValueError(f"unknown finding {label!r}; expected one of {CHESTXRAY14_LABELS + TB_FINDINGS}")
    for label, drawn in (("Cardiomegaly", anatomy.cardiomegaly), ("Emphysema", anatomy.emphysema)):
        if label in findings and not drawn:
            raise ValueError(f"finding {label!r} needs an anatomy sampled with {label.lower()}=True")
    chest = _draw_anatomy(rng, anatomy)
    in_painting_order = sorted(findings, key=list(_PAINTERS).index)
    planted = tuple(PlantedFinding(label, _PAINTERS[label](rng, chest)) for label in in_painting_order)
    canvas = np.clip(chest.canvas, 0.0, 1.0)
    blur = max(0.4, 0.0008 * anatomy.width)
    canvas = ndimage.gaussian_filter(canvas, sigma=blur) ** rng.uniform(0.85, 1.15) * rng.uniform(0.9, 1.05)
    canvas += rng.normal(0.0, 0.008, size=canvas.shape).astype(np.float32)
    return SyntheticRadiograph(to_uint8(canvas), anatomy, planted)
