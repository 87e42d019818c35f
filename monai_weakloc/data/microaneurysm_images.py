"""The whole images a microaneurysm segmentation network trains on, from the IDRiD layout.

The microaneurysm method (Sarhan et al. 2019) takes its lesion pixels from images with microaneurysm masks and its
healthy pixels only from healthy eyes (for the segmentation networks as whole images, for the patch refinement
network as patch centres, :func:`microaneurysm_patch_centres`): the segmentation set's images that have a microaneurysm mask, and the
grading set's grade-0 images (which have no mask). IDRiD has a training and a testing set; the method monitors
training on a validation part of the training set, the last ``val_fraction`` of each kind of image by id.
"""

from __future__ import annotations

import math
from pathlib import Path

from monai_weakloc.data.ma_patches import healthy_patch_centres, lesion_patch_centres
from monai_weakloc.data.split_reading import split_records

__all__ = ["SUBSETS", "microaneurysm_patch_centres", "microaneurysm_training_images", "patch_pools"]

SUBSETS: tuple[str, ...] = ("train", "val")
HEALTHY_GRADE = 0


def _subset(records: list[dict], subset: str, val_fraction: float) -> list[dict]:
    """The training or validation part of ``records`` (sorted by id; validation: the last ``val_fraction``)."""
    ordered = sorted(records, key=lambda record: record["id"])
    num_val = min(math.ceil(len(ordered) * val_fraction), len(ordered) - 1) if ordered else 0
    return ordered[len(ordered) - num_val :] if subset == "val" else ordered[: len(ordered) - num_val]


def microaneurysm_training_images(
    dataset_dir: str | Path,
    subset: str = "train",
    val_fraction: float = 0.2,
    lesion: str = "MA",
    min_size: int | None = None,
    on_error: str = "raise",
) -> list[dict]:
    """Lesion images (with their mask) and healthy images (grade 0, no mask) of IDRiD's training set.

    Args:
        dataset_dir: the IDRiD folder (``A. Segmentation``, ``B. Disease Grading``).
        subset: ``"train"`` or ``"val"``: which part of the training set.
        val_fraction: the share of each kind of image held out for validation, in [0, 1).
        lesion: the lesion whose masks are the labels.
        min_size: smallest height and width every image must have (``None``: any).
        on_error: ``"raise"`` or ``"skip"`` (log and leave out bad rows and images).

    Returns:
        records ``image``, ``id``, ``label`` (the lesion mask's path, ``None`` for a healthy image: the key MONAI's
        engines read the segmentation label from) and ``healthy``, lesion images first, each kind sorted by id.

    Raises:
        ValueError: for a bad ``subset`` or ``val_fraction``; when the training set has no image with a
            ``lesion`` mask or no grade-0 image (naming the folder); and the readers' errors.
    """
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    segmentation = split_records(
        "idrid", dataset_dir, "train", min_size=min_size, on_error=on_error, task="segmentation", lesion=lesion
    )
    grading = split_records("idrid", dataset_dir, "train", min_size=min_size, on_error=on_error, task="grading")
    lesion_images = [
        {"image": record["image"], "id": record["id"], "label": record["mask"], "healthy": False}
        for record in segmentation
        if record.get("mask") is not None
    ]
    healthy_images = [
        {"image": record["image"], "id": record["id"], "label": None, "healthy": True}
        for record in grading
        if int(record["label"]) == HEALTHY_GRADE
    ]
    if not lesion_images:
        raise ValueError(f"{dataset_dir}: no training image of the segmentation set has a {lesion} mask")
    if not healthy_images:
        raise ValueError(f"{dataset_dir}: the grading set's training part has no grade-0 (healthy) image")
    return _subset(lesion_images, subset, val_fraction) + _subset(healthy_images, subset, val_fraction)


def microaneurysm_patch_centres(
    records: list[dict], lesion_per_image: int | None = None, healthy_per_image: int = 100, seed: int = 0
) -> list[dict]:
    """The patch refinement network's patch centres in the images of :func:`microaneurysm_training_images`.

    Args:
        records: what :func:`microaneurysm_training_images` returns.
        lesion_per_image: the most lesion centres per lesion image (a seeded sample of its mask's pixels);
            ``None`` takes every mask pixel.
        healthy_per_image: random centres inside the field of view of each healthy image.
        seed: seed of both samples.

    Returns:
        ``{"image", "id", "centre": (row, col), "label"}`` records (see :mod:`monai_weakloc.data.ma_patches`),
        lesion centres (label 1) first, then healthy ones (label 0).
    """
    lesion_images = [{"image": r["image"], "id": r["id"], "mask": r["label"]} for r in records if not r["healthy"]]
    healthy_images = [{"image": r["image"], "id": r["id"], "label": HEALTHY_GRADE} for r in records if r["healthy"]]
    return lesion_patch_centres(lesion_images, lesion_per_image, seed) + healthy_patch_centres(
        healthy_images, healthy_per_image, seed
    )


def patch_pools(centres: list[dict]) -> tuple[list[int], list[int]]:
    """The indices of the lesion (label 1) and healthy (label 0) centres: the triplet sampler's two pools."""
    lesion = [index for index, centre in enumerate(centres) if int(centre["label"]) == 1]
    return lesion, [index for index, centre in enumerate(centres) if int(centre["label"]) == 0]
