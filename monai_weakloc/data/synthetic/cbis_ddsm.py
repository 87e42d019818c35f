"""Synthetic CBIS-DDSM mammography dataset in the layout TCIA distributes.

Written under ``out_dir`` (one case shown)::

    mass_case_description_train_set.csv    one row per abnormality (columns as distributed, below)
    mass_case_description_test_set.csv
    calc_case_description_train_set.csv
    calc_case_description_test_set.csv
    Mass-Training_P_00001_LEFT_CC/<study uid>/<series uid>/000000.dcm       full mammogram
    Mass-Training_P_00001_LEFT_CC_1/<study uid>/<series uid>/000000.dcm     cropped abnormality
    Mass-Training_P_00001_LEFT_CC_1/<study uid>/<series uid>/000001.dcm     ROI mask of abnormality 1
    Mass-Training_P_00001_LEFT_MLO/...                                      the same breast's MLO view

The four tables are always written (a header only when a part is empty). Their columns are the
distributed ones: ``patient_id``, ``breast_density`` (``breast density`` in the calcification tables),
``left or right breast``, ``image view``, ``abnormality id``, ``abnormality type`` (``mass`` or
``calcification``), ``mass shape`` and ``mass margins`` (``calc type`` and ``calc distribution``),
``assessment`` (BI-RADS), ``pathology`` (``MALIGNANT``, ``BENIGN`` or ``BENIGN_WITHOUT_CALLBACK``),
``subtlety``, ``image file path``, ``cropped image file path`` and ``ROI mask file path``; the paths are
relative to ``out_dir``, and the ROI mask path ends in a line break inside its quotes, as in the
distributed tables.

Cases: each patient is one breast (``LEFT`` or ``RIGHT``) seen in a CC and an MLO view that show the same
abnormality (id 1) at different places; an odd ``num_images`` leaves the last case with its CC view only.
Every image holds one abnormality: CBIS-DDSM has no normal mammograms. Cases are drawn in balanced blocks
of mass and calcification x ``MALIGNANT, MALIGNANT, BENIGN, BENIGN_WITHOUT_CALLBACK``, so 8 cases (16
images) hold every combination; a quarter of the patients (balanced blocks of four) are in the test
split. The chest wall lies at the image edge of the breast's side (``LEFT``: left edge); CC views show
only a sliver of pectoral muscle.

Appearance follows pathology, so that a malignant-vs-benign classifier has something to learn: malignant
masses are spiculated (``SPIC``), ill-defined (``MISC``) or architectural distortions (``ARCH``), benign
ones circumscribed (``CIRC``), as drawn by :mod:`monai_weakloc.data.synthetic.mammogram`; calcifications
are clusters of bright dots spread over a wider region when malignant (radius 5 to 8 % of the image
width) than when benign (2.5 to 4.5 %). Breast density 1 to 4 sets the tissue brightness (fatty to
dense).

DICOM: secondary-capture files (modality ``MG``, explicit VR little endian, no dates). Mammograms and crops
are 16-bit unsigned ``MONOCHROME2`` (the 8-bit rendering times 257), ROI masks 8-bit ``MONOCHROME2`` with
0 outside and 255 inside the abnormality, the mammogram's size. UIDs are derived from the arguments, so
the same arguments give byte-identical files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from monai_weakloc.data.synthetic.files import check_synth_arguments, prepare_output_dir, write_csv
from monai_weakloc.data.synthetic.mammogram import (
    MammogramAbnormality,
    place_abnormality,
    render_mammogram,
    sample_breast_geometry,
)
from monai_weakloc.data.synthetic.schedule import balanced_schedule

__all__ = [
    "synthesize_cbis_ddsm",
    "CBIS_CASE_SCHEDULE",
    "CBIS_SPLIT_SCHEDULE",
    "MASS_COLUMNS",
    "CALC_COLUMNS",
    "write_dicom_image",
]

CBIS_CASE_SCHEDULE = tuple(
    (abnormality_type, pathology)
    for abnormality_type in ("mass", "calcification")
    for pathology in ("MALIGNANT", "MALIGNANT", "BENIGN", "BENIGN_WITHOUT_CALLBACK")
)
"""(abnormality type, pathology) of the cases, drawn in shuffled blocks of these eight."""
CBIS_SPLIT_SCHEDULE = ("train", "train", "train", "test")
"""Split of the patients, drawn in shuffled blocks of these four."""
MASS_COLUMNS = (
    "patient_id",
    "breast_density",
    "left or right breast",
    "image view",
    "abnormality id",
    "abnormality type",
    "mass shape",
    "mass margins",
    "assessment",
    "pathology",
    "subtlety",
    "image file path",
    "cropped image file path",
    "ROI mask file path",
)
CALC_COLUMNS = tuple(
    {"breast_density": "breast density", "mass shape": "calc type", "mass margins": "calc distribution"}.get(name, name)
    for name in MASS_COLUMNS
)

_SPLIT_WORDS = {"train": "Training", "test": "Test"}
_TYPE_WORDS = {"mass": "Mass", "calcification": "Calc"}
_TABLE_PREFIXES = {"mass": "mass", "calcification": "calc"}
_VIEWS = ("CC", "MLO")
_DENSITY_BACKGROUNDS = {1: "F", 2: "G", 3: "G", 4: "D"}
"""BI-RADS breast density -> tissue class of :data:`monai_weakloc.data.synthetic.mammogram.MIAS_BACKGROUNDS`."""
_MASS_LOOKS = {
    # drawn class -> (mass shapes, mass margins) it is described with
    "CIRC": (("OVAL", "ROUND"), ("CIRCUMSCRIBED", "OBSCURED")),
    "MISC": (("IRREGULAR", "LOBULATED"), ("ILL_DEFINED", "MICROLOBULATED")),
    "SPIC": (("IRREGULAR",), ("SPICULATED",)),
    "ARCH": (("ARCHITECTURAL_DISTORTION",), ("SPICULATED", "ILL_DEFINED")),
}
_MALIGNANT_MASS_CLASSES = ("SPIC", "SPIC", "MISC", "ARCH")
_CALC_LOOKS = {
    # malignant? -> (calc types, calc distributions)
    True: (("PLEOMORPHIC", "FINE_LINEAR_BRANCHING"), ("CLUSTERED", "SEGMENTAL", "LINEAR")),
    False: (("PUNCTATE", "ROUND_AND_REGULAR", "AMORPHOUS"), ("CLUSTERED", "REGIONAL")),
}
_ASSESSMENTS = {"MALIGNANT": (4, 5), "BENIGN": (2, 3, 4), "BENIGN_WITHOUT_CALLBACK": (2, 3)}
_CC_PECTORAL_SHARE = 0.2
"""A CC view shows this share of the pectoral triangle an MLO view shows."""
_CROP_MARGIN = 0.5
"""Margin of a cropped abnormality around its ROI, in radii."""
_UID_PREFIX = "1.2.826.0.1.3680043.8.498."
"""pydicom's root for generated UIDs."""


@dataclass(frozen=True)
class _Case:
    """One patient's breast: what its abnormality is and how the tables describe it."""

    patient_id: str
    laterality: str
    density: int
    abnormality_type: str
    pathology: str
    class_code: str
    radius_share: float
    descriptors: tuple[str, str]
    assessment: int
    subtlety: int


def _draw_case(rng: np.random.Generator, number: int, abnormality_type: str, pathology: str) -> _Case:
    """Draw the breast, the abnormality's class, size and table descriptors of case ``number``."""
    malignant = pathology == "MALIGNANT"
    if abnormality_type == "mass":
        class_code = str(rng.choice(_MALIGNANT_MASS_CLASSES)) if malignant else "CIRC"
        shapes, margins = _MASS_LOOKS[class_code]
        radius_share = float(rng.uniform(0.035, 0.08))
    else:
        class_code = "CALC"
        shapes, margins = _CALC_LOOKS[malignant]
        radius_share = float(rng.uniform(0.05, 0.08) if malignant else rng.uniform(0.025, 0.045))
    return _Case(
        patient_id=f"P_{number:05d}",
        laterality=str(rng.choice(["LEFT", "RIGHT"])),
        density=int(rng.integers(1, 5)),
        abnormality_type=abnormality_type,
        pathology=pathology,
        class_code=class_code,
        radius_share=radius_share,
        descriptors=(str(rng.choice(shapes)), str(rng.choice(margins))),
        assessment=int(rng.choice(_ASSESSMENTS[pathology])),
        subtlety=int(rng.integers(1, 6)),
    )


def _uid(*parts: object) -> str:
    """A UID under pydicom's root, derived from ``parts`` (the same parts give the same UID)."""
    return generate_uid(prefix=_UID_PREFIX, entropy_srcs=[str(part) for part in parts])


def write_dicom_image(
    path: Path,
    pixels: np.ndarray,
    *,
    patient: str,
    study_uid: str,
    series_uid: str,
    instance_uid: str,
    description: str,
    laterality: str,
    view: str,
) -> None:
    """Write a secondary-capture ``MONOCHROME2`` mammography DICOM file holding ``pixels`` (rows, columns).

    Args:
        path: destination; parent folders are created.
        pixels: uint8 (8 bits stored) or uint16 (16 bits stored) array of shape (H, W).
        patient: patient id and name (CBIS-DDSM uses the image folder's name).
        study_uid: study instance UID.
        series_uid: series instance UID.
        instance_uid: SOP instance UID.
        description: series description, e.g. ``full mammogram images``.
        laterality: ``LEFT`` or ``RIGHT``.
        view: ``CC`` or ``MLO``.

    Raises:
        ValueError: for another dtype or shape.
    """
    bits = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(pixels.dtype)
    if bits is None or pixels.ndim != 2:
        raise ValueError(f"{path}: expected a uint8 or uint16 (H, W) array, got {pixels.dtype} {pixels.shape}")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = SecondaryCaptureImageStorage
    dataset.SOPInstanceUID = instance_uid
    dataset.StudyInstanceUID = study_uid
    dataset.SeriesInstanceUID = series_uid
    dataset.Modality = "MG"
    dataset.ConversionType = "WSD"
    dataset.PatientID = patient
    dataset.PatientName = patient
    dataset.BodyPartExamined = "BREAST"
    dataset.SeriesDescription = description
    dataset.SeriesNumber = 1
    dataset.InstanceNumber = 1
    dataset.ImageLaterality = laterality[0]
    dataset.ViewPosition = view
    dataset.set_pixel_data(np.ascontiguousarray(pixels), "MONOCHROME2", bits, generate_instance_uid=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)


def _roi_mask(size: int, abnormality: MammogramAbnormality) -> np.ndarray:
    """Bool (size, size) disc of the abnormality's radius around its centre (every drawn part lies inside)."""
    rows, cols = np.ogrid[:size, :size]
    distance = np.hypot(rows - abnormality.centre_row, cols - abnormality.centre_x)
    return distance <= abnormality.radius + 0.5


def _crop(image: np.ndarray, abnormality: MammogramAbnormality) -> np.ndarray:
    """The part of ``image`` around the abnormality: its ROI's bounding box and a margin, clipped to the image."""
    reach = int(np.ceil(abnormality.radius * (1.0 + _CROP_MARGIN)))
    size = image.shape[0]
    top, left = max(0, abnormality.centre_row - reach), max(0, abnormality.centre_x - reach)
    bottom, right = min(size, abnormality.centre_row + reach + 1), min(size, abnormality.centre_x + reach + 1)
    return image[top:bottom, left:right]


def _render_view(
    rng: np.random.Generator, case: _Case, view: str, image_size: int
) -> tuple[np.ndarray, MammogramAbnormality]:
    """One view of a case's breast: the uint16 mammogram and where its abnormality was placed."""
    geometry = sample_breast_geometry(rng, image_size, case.laterality.lower())
    if view == "CC":
        geometry = dataclasses.replace(
            geometry,
            pectoral_width=geometry.pectoral_width * _CC_PECTORAL_SHARE,
            pectoral_height=geometry.pectoral_height * _CC_PECTORAL_SHARE,
        )
    radius = max(3, int(round(image_size * case.radius_share * rng.uniform(0.9, 1.1))))
    abnormality = place_abnormality(rng, geometry, case.class_code, radius)
    image = render_mammogram(rng, geometry, _DENSITY_BACKGROUNDS[case.density], abnormality)
    return image.astype(np.uint16) * 257, abnormality


def _write_view(
    root: Path,
    uid_seed: tuple[object, ...],
    folder: str,
    case: _Case,
    view: str,
    image: np.ndarray,
    crop: np.ndarray,
    mask: np.ndarray,
) -> tuple[str, str, str]:
    """Write a mammogram into ``folder`` and its crop and ROI mask into ``<folder>_1``; their paths under ``root``."""
    written = []
    roi_folder = f"{folder}_1"
    for top, name, pixels, description in (
        (folder, "000000.dcm", image, "full mammogram images"),
        (roi_folder, "000000.dcm", crop, "cropped images"),
        (roi_folder, "000001.dcm", mask, "ROI mask images"),
    ):
        study_uid, series_uid = _uid(*uid_seed, top, "study"), _uid(*uid_seed, top, "series")
        relative = f"{top}/{study_uid}/{series_uid}/{name}"
        write_dicom_image(
            root / relative,
            pixels,
            patient=folder,
            study_uid=study_uid,
            series_uid=series_uid,
            instance_uid=_uid(*uid_seed, relative),
            description=description,
            laterality=case.laterality,
            view=view,
        )
        written.append(relative)
    return written[0], written[1], written[2]


def synthesize_cbis_ddsm(out_dir: str | Path, *, num_images: int = 40, seed: int = 0, image_size: int = 256) -> Path:
    """Write a synthetic CBIS-DDSM dataset (layout in the module docstring).

    Args:
        out_dir: new or empty directory to write into (created if missing).
        num_images: number of full mammograms (two views per case).
        seed: seed of ``numpy.random.default_rng``; the same arguments give byte-identical files.
        image_size: width and height of the mammograms in pixels.

    Returns:
        ``out_dir`` as a ``Path``: the folder holding the case-description tables and the image folders.

    Raises:
        TypeError, ValueError: bad arguments, or ``out_dir`` not empty.
    """
    check_synth_arguments(num_images, seed, image_size)
    root = prepare_output_dir(out_dir)
    rng = np.random.default_rng(seed)
    num_cases = (num_images + 1) // 2
    kinds = balanced_schedule(rng, num_cases, CBIS_CASE_SCHEDULE)
    splits = balanced_schedule(rng, num_cases, CBIS_SPLIT_SCHEDULE)
    tables: dict[tuple[str, str], list[list[object]]] = {
        (abnormality_type, split): [] for abnormality_type in _TYPE_WORDS for split in _SPLIT_WORDS
    }
    uid_seed = ("cbis_ddsm", num_images, seed, image_size)
    for index, ((abnormality_type, pathology), split) in enumerate(zip(kinds, splits)):
        case = _draw_case(rng, index + 1, abnormality_type, pathology)
        for view in _VIEWS[: min(2, num_images - 2 * index)]:
            folder = f"{_TYPE_WORDS[abnormality_type]}-{_SPLIT_WORDS[split]}_{case.patient_id}_{case.laterality}_{view}"
            image, abnormality = _render_view(rng, case, view, image_size)
            mask = np.where(_roi_mask(image_size, abnormality), 255, 0).astype(np.uint8)
            image_path, crop_path, mask_path = _write_view(
                root, uid_seed, folder, case, view, image, _crop(image, abnormality), mask
            )
            tables[abnormality_type, split].append(
                [
                    case.patient_id,
                    case.density,
                    case.laterality,
                    view,
                    1,
                    abnormality_type,
                    *case.descriptors,
                    case.assessment,
                    case.pathology,
                    case.subtlety,
                    image_path,
                    crop_path,
                    f"{mask_path}\n",
                ]
            )
    for (abnormality_type, split), rows in tables.items():
        columns = MASS_COLUMNS if abnormality_type == "mass" else CALC_COLUMNS
        write_csv(root / f"{_TABLE_PREFIXES[abnormality_type]}_case_description_{split}_set.csv", columns, rows)
    return root
