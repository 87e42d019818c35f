"""Synthetic IDRiD dataset in the distributed layout (segmentation and disease-grading parts).

Written under ``out_dir``::

    A. Segmentation/1. Original Images/a. Training Set/IDRiD_01.jpg        (about 2/3 of num_images)
    A. Segmentation/1. Original Images/b. Testing Set/IDRiD_NN.jpg         (numbering continues)
    A. Segmentation/2. All Segmentation Groundtruths/{a. Training Set,b. Testing Set}/
        1. Microaneurysms/IDRiD_01_MA.tif   2. Haemorrhages/..._HE.tif   3. Hard Exudates/..._EX.tif
        4. Soft Exudates/..._SE.tif         5. Optic Disc/..._OD.tif
    B. Disease Grading/1. Original Images/{a. Training Set,b. Testing Set}/IDRiD_001.jpg   (80 % / 20 %,
        numbering restarts in the testing set)
    B. Disease Grading/2. Groundtruths/a. IDRiD_Disease Grading_Training Labels.csv
    B. Disease Grading/2. Groundtruths/b. IDRiD_Disease Grading_Testing Labels.csv
        columns ``Image name,Retinopathy grade,Risk of macular edema `` (trailing space)

Each part holds ``num_images`` images. Masks are binary 8-bit TIFFs (0/255), written only for the lesions
an image has (soft exudates are the cotton-wool spots); every image has its optic-disc mask.
Segmentation images all have retinopathy (ICDR grades 1..4). Grades follow the ICDR rule and edema risk
the exudate-to-macula rule of :mod:`monai_weakloc.data.synthetic.fundus_grading`. All images share one
size with the 4288 x 2848 aspect of the real ones.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from monai_weakloc.data.synthetic.files import (
    check_synth_arguments,
    prepare_output_dir,
    save_binary_mask,
    save_image,
    write_csv,
)
from monai_weakloc.data.synthetic.fundus import EYES, SyntheticFundus, render_fundus, sample_retina_geometry
from monai_weakloc.data.synthetic.fundus_grading import (
    ICDR_NUM_GRADES,
    lesion_counts_for_icdr_grade,
    macular_edema_risk,
)
from monai_weakloc.data.synthetic.schedule import balanced_schedule

__all__ = [
    "synthesize_idrid",
    "IDRID_SET_FOLDERS",
    "IDRID_MASK_FOLDERS",
    "IDRID_DISC_FOLDER",
    "IDRID_GRADING_COLUMNS",
    "IDRID_GRADING_LABEL_FILES",
]

IDRID_SET_FOLDERS = {"train": "a. Training Set", "test": "b. Testing Set"}
IDRID_MASK_FOLDERS = {  # lesion kind -> (folder, file code)
    "microaneurysm": ("1. Microaneurysms", "MA"),
    "haemorrhage": ("2. Haemorrhages", "HE"),
    "hard_exudate": ("3. Hard Exudates", "EX"),
    "cotton_wool_spot": ("4. Soft Exudates", "SE"),
}
IDRID_DISC_FOLDER = ("5. Optic Disc", "OD")
IDRID_GRADING_COLUMNS = ("Image name", "Retinopathy grade", "Risk of macular edema ")
IDRID_GRADING_LABEL_FILES = {
    "train": "a. IDRiD_Disease Grading_Training Labels.csv",
    "test": "b. IDRiD_Disease Grading_Testing Labels.csv",
}
_SEGMENTATION = "A. Segmentation"
_GRADING = "B. Disease Grading"


def _draw(rng: np.random.Generator, width: int, height: int, grade: int) -> SyntheticFundus:
    """One IDRiD-like photograph of ICDR ``grade``: retina slightly cut at the top and bottom."""
    geometry = sample_retina_geometry(rng, width, height, EYES[int(rng.integers(2))], radius_range=(0.98, 1.08))
    return render_fundus(rng, geometry, lesion_counts_for_icdr_grade(rng, grade))


def _write_segmentation(root: Path, rng: np.random.Generator, num_images: int, size: tuple[int, int]) -> None:
    """Images and masks of part A; the first ceil(2/3 n) images form the training set."""
    num_train = math.ceil(2 * num_images / 3)
    images = root / _SEGMENTATION / "1. Original Images"
    masks = root / _SEGMENTATION / "2. All Segmentation Groundtruths"
    for index, grade in enumerate(balanced_schedule(rng, num_images, range(1, ICDR_NUM_GRADES)), start=1):
        set_folder = IDRID_SET_FOLDERS["train" if index <= num_train else "test"]
        image_id = f"IDRiD_{index:02d}"
        fundus = _draw(rng, *size, grade)
        save_image(images / set_folder / f"{image_id}.jpg", fundus.image)
        for kind, (folder, code) in IDRID_MASK_FOLDERS.items():
            if fundus.lesion_masks[kind].any():
                save_binary_mask(masks / set_folder / folder / f"{image_id}_{code}.tif", fundus.lesion_masks[kind])
        folder, code = IDRID_DISC_FOLDER
        save_binary_mask(masks / set_folder / folder / f"{image_id}_{code}.tif", fundus.disc_mask)


def _write_grading(root: Path, rng: np.random.Generator, num_images: int, size: tuple[int, int]) -> None:
    """Images and label tables of part B: 80 % training, 20 % testing, numbering from 1 in each set."""
    num_train = max(1, round(0.8 * num_images))
    for split, count in (("train", num_train), ("test", num_images - num_train)):
        rows: list[tuple[str, int, int]] = []
        for index, grade in enumerate(balanced_schedule(rng, count, range(ICDR_NUM_GRADES)), start=1):
            image_id = f"IDRiD_{index:03d}"
            fundus = _draw(rng, *size, grade)
            image_folder = root / _GRADING / "1. Original Images" / IDRID_SET_FOLDERS[split]
            save_image(image_folder / f"{image_id}.jpg", fundus.image)
            geometry = fundus.geometry
            edema = macular_edema_risk(fundus.lesions, geometry.macula_x, geometry.macula_y, geometry.disc_radius)
            rows.append((image_id, grade, edema))
        write_csv(root / _GRADING / "2. Groundtruths" / IDRID_GRADING_LABEL_FILES[split], IDRID_GRADING_COLUMNS, rows)


def synthesize_idrid(out_dir: str | Path, *, num_images: int = 40, seed: int = 0, image_size: int = 256) -> Path:
    """Write a synthetic IDRiD dataset (layout in the module docstring).

    Args:
        out_dir: new or empty directory to write into (created if missing).
        num_images: number of images in each of the two parts.
        seed: seed of ``numpy.random.default_rng``; the same arguments give byte-identical files.
        image_size: images are ``round(1.2 * image_size)`` wide, with the real 4288:2848 aspect.

    Returns:
        ``out_dir`` as a ``Path``.

    Raises:
        TypeError, ValueError: bad arguments, or ``out_dir`` not empty.
    """
    check_synth_arguments(num_images, seed, image_size)
    root = prepare_output_dir(out_dir)
    rng = np.random.default_rng(seed)
    width = int(round(1.2 * image_size))
    size = (width, int(round(width * 2848 / 4288)))
    _write_segmentation(root, rng, num_images, size)
    _write_grading(root, rng, num_images, size)
    return root
