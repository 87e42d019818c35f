"""Synthetic NIH ChestX-ray14 dataset in the distributed layout.

Written under ``out_dir``::

    Data_Entry_2017.csv   Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,
                          View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]
    BBox_List_2017.csv    Image Index,Finding Label,Bbox [x,y,w,h],,,   (rows: x, y, w, h, then 3 empty fields)
    train_val_list.txt    image file names, one a line (about 80 % of the patients)
    test_list.txt         the other patients' images
    images/<8-digit patient>_<3-digit follow-up>.png

Images are ``image_size`` square, 8-bit grayscale, a few (1 in 20, at least one) RGBA as in the real set.
About 40 % are ``No Finding``; the others carry one to three of the 14 labels, planted as described in
:mod:`monai_weakloc.data.synthetic.chest`, listed alphabetically and ``|``-separated. Every planted finding
of the 8 boxed labels gets a row in the box list (which spells ``Infiltrate``), in image pixels. Patients
have one to three follow-ups; ``OriginalImage`` sizes and pixel spacings are plausible made-up values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monai_weakloc.data.synthetic.chest import render_chest, sample_chest_anatomy
from monai_weakloc.data.synthetic.files import check_synth_arguments, prepare_output_dir, save_image, write_csv

__all__ = [
    "synthesize_chestxray14",
    "CHESTXRAY14_ENTRY_HEADER",
    "CHESTXRAY14_BBOX_HEADER",
    "CHESTXRAY14_BOX_LABELS",
    "CHESTXRAY14_FINDING_WEIGHTS",
]

CHESTXRAY14_ENTRY_HEADER = (
    "Image Index",
    "Finding Labels",
    "Follow-up #",
    "Patient ID",
    "Patient Age",
    "Patient Gender",
    "View Position",
    "OriginalImage[Width",
    "Height]",
    "OriginalImagePixelSpacing[x",
    "y]",
)
CHESTXRAY14_BBOX_HEADER = ("Image Index", "Finding Label", "Bbox [x", "y", "w", "h]", "", "", "")
CHESTXRAY14_BOX_LABELS = {  # entry-list label -> box-list spelling
    "Atelectasis": "Atelectasis",
    "Cardiomegaly": "Cardiomegaly",
    "Effusion": "Effusion",
    "Infiltration": "Infiltrate",
    "Mass": "Mass",
    "Nodule": "Nodule",
    "Pneumonia": "Pneumonia",
    "Pneumothorax": "Pneumothorax",
}
CHESTXRAY14_FINDING_WEIGHTS = {
    "Infiltration": 0.16,
    "Effusion": 0.12,
    "Atelectasis": 0.11,
    "Nodule": 0.10,
    "Mass": 0.08,
    "Pneumothorax": 0.07,
    "Cardiomegaly": 0.07,
    "Consolidation": 0.06,
    "Pleural_Thickening": 0.05,
    "Pneumonia": 0.04,
    "Edema": 0.04,
    "Emphysema": 0.04,
    "Fibrosis": 0.04,
    "Hernia": 0.02,
}
_NO_FINDING_PROBABILITY = 0.4
_TEST_PATIENT_SHARE = 0.2


def _sample_findings(rng: np.random.Generator) -> list[str]:
    """No finding (40 %) or one to three distinct labels drawn by ``CHESTXRAY14_FINDING_WEIGHTS``."""
    if rng.random() < _NO_FINDING_PROBABILITY:
        return []
    labels = list(CHESTXRAY14_FINDING_WEIGHTS)
    weights = np.array([CHESTXRAY14_FINDING_WEIGHTS[label] for label in labels])
    count = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    return sorted(str(label) for label in rng.choice(labels, size=count, replace=False, p=weights / weights.sum()))


def _patients_and_follow_ups(rng: np.random.Generator, num_images: int) -> list[tuple[int, int]]:
    """``(patient id, follow-up #)`` of each image: patients numbered from 1 with one to three studies."""
    studies: list[tuple[int, int]] = []
    patient = 0
    while len(studies) < num_images:
        patient += 1
        follow_ups = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
        studies.extend((patient, follow_up) for follow_up in range(follow_ups))
    return studies[:num_images]


def synthesize_chestxray14(out_dir: str | Path, *, num_images: int = 40, seed: int = 0, image_size: int = 256) -> Path:
    """Write a synthetic ChestX-ray14 dataset (layout in the module docstring).

    Args:
        out_dir: new or empty directory to write into (created if missing).
        num_images: number of images.
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
    studies = _patients_and_follow_ups(rng, num_images)
    patients = sorted({patient for patient, _ in studies})
    num_test = max(1, round(_TEST_PATIENT_SHARE * len(patients))) if len(patients) > 1 else 0
    test_patients = {int(patient) for patient in rng.choice(patients, size=num_test, replace=False)}
    rgba_images = set(rng.choice(num_images, size=max(1, num_images // 20), replace=False).tolist())
    profile: dict[int, tuple[int, str, int, int]] = {}  # patient -> first age, gender, original width, height
    for patient in patients:
        age, gender = int(rng.integers(1, 90)), "M" if rng.random() < 0.55 else "F"
        profile[patient] = (age, gender, *rng.integers(2000, 3001, size=2).tolist())

    entry_rows: list[tuple[object, ...]] = []
    box_rows: list[tuple[object, ...]] = []
    lists: dict[bool, list[str]] = {False: [], True: []}
    for index, (patient, follow_up) in enumerate(studies):
        name = f"{patient:08d}_{follow_up:03d}.png"
        findings = _sample_findings(rng)
        anatomy = sample_chest_anatomy(
            rng, image_size, image_size, cardiomegaly="Cardiomegaly" in findings, emphysema="Emphysema" in findings
        )
        radiograph = render_chest(rng, anatomy, findings)
        pixels = radiograph.image
        if index in rgba_images:
            pixels = np.dstack([pixels, pixels, pixels, np.full_like(pixels, 255)])
        save_image(root / "images" / name, pixels)
        age, gender, original_width, original_height = profile[patient]
        spacing = float(rng.choice([0.139, 0.143, 0.168]))
        view = "PA" if rng.random() < 0.6 else "AP"
        labels = "|".join(findings) or "No Finding"
        entry_rows.append(
            (name, labels, follow_up, patient, age + follow_up, gender, view)
            + (original_width, original_height, spacing, spacing)
        )
        for finding in radiograph.findings:
            if finding.label in CHESTXRAY14_BOX_LABELS:
                box_rows.append((name, CHESTXRAY14_BOX_LABELS[finding.label], *finding.box, "", "", ""))
        lists[patient in test_patients].append(name)
    write_csv(root / "Data_Entry_2017.csv", CHESTXRAY14_ENTRY_HEADER, entry_rows)
    write_csv(root / "BBox_List_2017.csv", CHESTXRAY14_BBOX_HEADER, box_rows)
    (root / "train_val_list.txt").write_text("".join(f"{name}\n" for name in lists[False]), encoding="utf-8")
    (root / "test_list.txt").write_text("".join(f"{name}\n" for name in lists[True]), encoding="utf-8")
    return root
