"""Synthetic Messidor dataset in the distributed layout.

Written under ``out_dir``: one folder per base, ``BaseNN/`` with TIFF images and ``Annotation_BaseNN.xls``
(Excel 97, sheet ``Feuil1``), columns ``Image name`` (file name with ``.tif``), ``Ophthalmologic
department``, ``Retinopathy grade`` (0..3) and ``Risk of macular edema `` (0..2, with the trailing space).

Bases are used in the order Base11, Base21, Base31, Base12, ... (first digit: department), about ten
images each, at most the 12 bases of the real set. Image sizes depend on the department, with the
3:2 aspect of the real images. Grades follow Messidor's rule and edema risk the exudate-to-macula rule of
:mod:`monai_weakloc.data.synthetic.fundus_grading`, both applied to the planted lesions.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from monai_weakloc.data.synthetic.files import check_synth_arguments, prepare_output_dir, save_image, write_xls
from monai_weakloc.data.synthetic.fundus import EYES, render_fundus, sample_retina_geometry
from monai_weakloc.data.synthetic.fundus_grading import (
    MESSIDOR_NUM_GRADES,
    lesion_counts_for_messidor_grade,
    macular_edema_risk,
)
from monai_weakloc.data.synthetic.schedule import balanced_schedule

__all__ = ["synthesize_messidor", "MESSIDOR_COLUMNS", "MESSIDOR_DEPARTMENTS", "MESSIDOR_BASES"]

MESSIDOR_COLUMNS = ("Image name", "Ophthalmologic department", "Retinopathy grade", "Risk of macular edema ")
MESSIDOR_DEPARTMENTS = {1: "Service Ophtalmologie Lariboisière", 2: "CHU de St Etienne", 3: "LaTIM - CHU de BREST"}
MESSIDOR_BASES = tuple(f"Base{department}{index}" for index in range(1, 5) for department in (1, 2, 3))
_IMAGES_PER_BASE = 10
_WIDTH_SCALE_BY_DEPARTMENT = {1: 1.0, 2: 1.15, 3: 1.2}


def synthesize_messidor(out_dir: str | Path, *, num_images: int = 40, seed: int = 0, image_size: int = 256) -> Path:
    """Write a synthetic Messidor dataset (layout in the module docstring).

    Args:
        out_dir: new or empty directory to write into (created if missing).
        num_images: number of images over all bases.
        seed: seed of ``numpy.random.default_rng``; the same arguments give byte-identical files.
        image_size: image width in pixels of department 1 (x1.15 and x1.2 for departments 2 and 3).

    Returns:
        ``out_dir`` as a ``Path``.

    Raises:
        TypeError, ValueError: bad arguments, or ``out_dir`` not empty.
    """
    check_synth_arguments(num_images, seed, image_size)
    root = prepare_output_dir(out_dir)
    rng = np.random.default_rng(seed)
    bases = MESSIDOR_BASES[: min(len(MESSIDOR_BASES), math.ceil(num_images / _IMAGES_PER_BASE))]
    grades = balanced_schedule(rng, num_images, range(MESSIDOR_NUM_GRADES))
    rows_by_base: dict[str, list[tuple[str, str, int, int]]] = {base: [] for base in bases}
    for index, grade in enumerate(grades):
        base = bases[index % len(bases)]
        department = int(base[4])
        month, day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
        name = f"2005{month:02d}{day:02d}_{10000 * department + index:05d}_{department:02d}00_PP.tif"
        width = int(round(image_size * _WIDTH_SCALE_BY_DEPARTMENT[department]))
        geometry = sample_retina_geometry(rng, width, int(round(width / 1.5)), EYES[int(rng.integers(2))], (0.9, 1.02))
        fundus = render_fundus(rng, geometry, lesion_counts_for_messidor_grade(rng, grade))
        save_image(root / base / name, fundus.image)
        edema = macular_edema_risk(fundus.lesions, geometry.macula_x, geometry.macula_y, geometry.disc_radius)
        rows_by_base[base].append((name, MESSIDOR_DEPARTMENTS[department], grade, edema))
    for base, rows in rows_by_base.items():
        write_xls(root / base / f"Annotation_{base}.xls", "Feuil1", MESSIDOR_COLUMNS, sorted(rows))
    return root
