"""Synthetic tuberculosis chest X-ray dataset in the Shenzhen / Montgomery layout.

Written under ``out_dir``::

    CXR_png/CHNCXR_0001_0.png   Shenzhen-style images (about 75 %), ``image_size`` square
    CXR_png/MCUCXR_0001_1.png   Montgomery-style images (about 25 %), portrait 4020:4892 aspect
    lesion_boxes.csv            image,label,x,y,w,h  (every planted TB lesion; image = file name stem)

The last digit of a name is the label (0 normal, 1 TB); numbering starts at 0001 in each source, and
about half of each source is TB. A TB image holds one to three upper-zone lesions, ``opacity`` (hazy
patch) or ``cavity`` (ring with a bright wall), drawn as in :mod:`monai_weakloc.data.synthetic.chest`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monai_weakloc.data.synthetic.chest import TB_FINDINGS, render_chest, sample_chest_anatomy
from monai_weakloc.data.synthetic.files import check_synth_arguments, prepare_output_dir, save_image, write_csv
from monai_weakloc.data.synthetic.schedule import balanced_schedule

__all__ = ["synthesize_tb_cxr", "TB_SOURCES"]

TB_SOURCES = {"CHNCXR": 1.0, "MCUCXR": 4892 / 4020}
"""Name prefix -> image height / width."""
_MONTGOMERY_SHARE = 0.25


def synthesize_tb_cxr(out_dir: str | Path, *, num_images: int = 40, seed: int = 0, image_size: int = 256) -> Path:
    """Write a synthetic TB chest X-ray dataset (layout in the module docstring).

    Args:
        out_dir: new or empty directory to write into (created if missing).
        num_images: number of images over both sources.
        seed: seed of ``numpy.random.default_rng``; the same arguments give byte-identical files.
        image_size: image width in pixels.

    Returns:
        ``out_dir`` as a ``Path``.

    Raises:
        TypeError, ValueError: bad arguments, or ``out_dir`` not empty.
    """
    check_synth_arguments(num_images, seed, image_size)
    root = prepare_output_dir(out_dir)
    rng = np.random.default_rng(seed)
    num_montgomery = round(_MONTGOMERY_SHARE * num_images)
    box_rows: list[tuple[str, str, int, int, int, int]] = []
    for prefix, count in (("CHNCXR", num_images - num_montgomery), ("MCUCXR", num_montgomery)):
        height = int(round(image_size * TB_SOURCES[prefix]))
        for number, label in enumerate(balanced_schedule(rng, count, (0, 1)), start=1):
            lesions = []
            if label:
                lesions = [str(kind) for kind in rng.choice(TB_FINDINGS, size=int(rng.integers(1, 4)), p=[0.6, 0.4])]
            radiograph = render_chest(rng, sample_chest_anatomy(rng, image_size, height), lesions)
            image_id = f"{prefix}_{number:04d}_{label}"
            save_image(root / "CXR_png" / f"{image_id}.png", radiograph.image)
            box_rows.extend((image_id, finding.label, *finding.box) for finding in radiograph.findings)
    write_csv(root / "lesion_boxes.csv", ("image", "label", "x", "y", "w", "h"), box_rows)
    return root
