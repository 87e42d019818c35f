"""Synthetic mini-MIAS mammography dataset in the distributed layout.

Written under ``out_dir``: ``mdb001.pgm`` ... (8-bit binary PGM, ``image_size`` square) and ``Info.txt``
with one line per image, ``REFNUM BG CLASS SEVERITY X Y RADIUS`` (e.g. ``mdb001 G CIRC B 52 71 9``), or
``REFNUM BG NORM`` for a normal image. X is the column of the abnormality's centre and **Y is measured
from the bottom edge**: the centre lies at row ``image_size - Y``. RADIUS (pixels) encloses it.

Odd reference numbers have the chest wall on the left, even ones on the right. Classes are drawn in
balanced blocks of ``NORM, NORM, CALC, CIRC, SPIC, MISC, ARCH, ASYM``: every class appears once there are
8 images and a quarter are normal. Abnormalities are drawn as in :mod:`monai_weakloc.data.synthetic.mammogram`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monai_weakloc.data.synthetic.files import check_synth_arguments, prepare_output_dir, save_image
from monai_weakloc.data.synthetic.mammogram import (
    MIAS_BACKGROUNDS,
    place_abnormality,
    render_mammogram,
    sample_breast_geometry,
)
from monai_weakloc.data.synthetic.schedule import balanced_schedule

__all__ = ["synthesize_mias", "MIAS_CLASS_SCHEDULE"]

MIAS_CLASS_SCHEDULE = ("NORM", "NORM", "CALC", "CIRC", "SPIC", "MISC", "ARCH", "ASYM")


def synthesize_mias(out_dir: str | Path, *, num_images: int = 40, seed: int = 0, image_size: int = 256) -> Path:
    """Write a synthetic MIAS dataset (layout in the module docstring).

    Args:
        out_dir: new or empty directory to write into (created if missing).
        num_images: number of images (``mdb001`` ...).
        seed: seed of ``numpy.random.default_rng``; the same arguments give byte-identical files.
        image_size: width and height of the images in pixels.

    Returns:
        ``out_dir`` as a ``Path``.

    Raises:
        TypeError, ValueError: bad arguments, or ``out_dir`` not empty.
    """
    check_synth_arguments(num_images, seed, image_size)
    root = prepare_output_dir(out_dir)
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    for number, class_code in enumerate(balanced_schedule(rng, num_images, MIAS_CLASS_SCHEDULE), start=1):
        refnum = f"mdb{number:03d}"
        background = str(rng.choice(list(MIAS_BACKGROUNDS)))
        geometry = sample_breast_geometry(rng, image_size, "left" if number % 2 else "right")
        if class_code == "NORM":
            lines.append(f"{refnum} {background} NORM")
            abnormality = None
        else:
            radius = max(3, int(round(image_size * rng.uniform(0.025, 0.08))))
            abnormality = place_abnormality(rng, geometry, class_code, radius)
            severity = "M" if rng.random() < 0.4 else "B"
            y_from_bottom = image_size - abnormality.centre_row
            centre = f"{abnormality.centre_x} {y_from_bottom} {radius}"
            lines.append(f"{refnum} {background} {class_code} {severity} {centre}")
        save_image(root / f"{refnum}.pgm", render_mammogram(rng, geometry, background, abnormality))
    (root / "Info.txt").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return root
