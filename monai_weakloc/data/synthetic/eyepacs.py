"""Synthetic EyePACS (Kaggle Diabetic Retinopathy Detection) dataset in the distributed layout.

Written under ``out_dir``::

    trainLabels.csv              image,level            (training images)
    train/<patient>_<eye>.jpeg
    retinopathy_solution.csv     image,level,Usage      (Usage: Public or Private)
    test/<patient>_<eye>.jpeg
    lesion_boxes.csv             image,label,x,y,w,h    (every planted lesion of every image)
    ma_masks/<image>.png         microaneurysm mask of every image, 0/255

Both eyes of every patient are written (``num_images`` is rounded up to an even number); the fellow eye's
grade differs from the first eye's by at most one. Patients go about 60 % to train, 20 % to Public and
20 % to Private, stratified by grade. Grades follow the ICDR rule of
:mod:`monai_weakloc.data.synthetic.fundus_grading` applied to the planted lesions, drawn in balanced
blocks so that every grade appears once there are at least 5 patients.
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
from monai_weakloc.data.synthetic.fundus import EYES, render_fundus, sample_fundus_size, sample_retina_geometry
from monai_weakloc.data.synthetic.fundus_grading import ICDR_NUM_GRADES, lesion_counts_for_icdr_grade
from monai_weakloc.data.synthetic.schedule import balanced_schedule

__all__ = ["synthesize_eyepacs", "EYEPACS_SPLIT_PATTERN"]

EYEPACS_SPLIT_PATTERN = ("train", "Public", "train", "Private", "train")
"""Split of the patients taken in grade order: 3 in 5 to train, 1 to Public, 1 to Private."""


def _patient_splits(base_grades: list[int]) -> list[str]:
    """Split of each patient: patients sorted by grade take ``EYEPACS_SPLIT_PATTERN`` in turn."""
    order = sorted(range(len(base_grades)), key=lambda patient: base_grades[patient])
    splits = [""] * len(base_grades)
    for position, patient in enumerate(order):
        splits[patient] = EYEPACS_SPLIT_PATTERN[position % len(EYEPACS_SPLIT_PATTERN)]
    return splits


def synthesize_eyepacs(out_dir: str | Path, *, num_images: int = 40, seed: int = 0, image_size: int = 256) -> Path:
    """Write a synthetic EyePACS dataset (layout in the module docstring).

    Args:
        out_dir: new or empty directory to write into (created if missing).
        num_images: number of images, rounded up to an even number (two eyes per patient).
        seed: seed of ``numpy.random.default_rng``; the same arguments give byte-identical files.
        image_size: nominal image width in pixels; widths vary in [0.9, 1.3] x ``image_size``.

    Returns:
        ``out_dir`` as a ``Path``.

    Raises:
        TypeError, ValueError: bad arguments, or ``out_dir`` not empty.
    """
    check_synth_arguments(num_images, seed, image_size)
    root = prepare_output_dir(out_dir)
    rng = np.random.default_rng(seed)
    num_patients = math.ceil(num_images / 2)
    base_grades = balanced_schedule(rng, num_patients, range(ICDR_NUM_GRADES))
    splits = _patient_splits(base_grades)
    patient_ids = rng.choice(np.arange(1, 10 * num_patients + 10), size=num_patients, replace=False)

    train_rows: list[tuple[str, int]] = []
    test_rows: list[tuple[str, int, str]] = []
    box_rows: list[tuple[str, str, int, int, int, int]] = []
    for patient in sorted(range(num_patients), key=lambda index: int(patient_ids[index])):
        step = int(rng.choice([-1, 0, 1], p=[0.2, 0.6, 0.2]))
        fellow_grade = min(max(base_grades[patient] + step, 0), ICDR_NUM_GRADES - 1)
        eye_grades = [base_grades[patient], fellow_grade]
        if rng.random() < 0.5:
            eye_grades.reverse()
        for eye, grade in zip(EYES, eye_grades):
            image_id = f"{int(patient_ids[patient])}_{eye}"
            width, height = sample_fundus_size(rng, image_size)
            geometry = sample_retina_geometry(rng, width, height, eye, radius_range=(0.85, 1.08))
            fundus = render_fundus(rng, geometry, lesion_counts_for_icdr_grade(rng, grade))
            folder = "train" if splits[patient] == "train" else "test"
            save_image(root / folder / f"{image_id}.jpeg", fundus.image)
            save_binary_mask(root / "ma_masks" / f"{image_id}.png", fundus.lesion_masks["microaneurysm"])
            box_rows.extend((image_id, lesion.kind, *lesion.box) for lesion in fundus.lesions)
            if splits[patient] == "train":
                train_rows.append((image_id, grade))
            else:
                test_rows.append((image_id, grade, splits[patient]))
    write_csv(root / "trainLabels.csv", ("image", "level"), train_rows)
    write_csv(root / "retinopathy_solution.csv", ("image", "level", "Usage"), test_rows)
    write_csv(root / "lesion_boxes.csv", ("image", "label", "x", "y", "w", "h"), box_rows)
    return root
