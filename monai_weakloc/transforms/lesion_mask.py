"""A lesion mask as a binary (1, H, W) label, or an all-zero one for an image without lesion mask.

Segmentation training mixes images with a lesion mask (IDRiD's ``IDRiD_01_MA.tif``) and images of healthy eyes,
which have none (the microaneurysm method takes its healthy pixels from grade-0 images of the grading set).
MONAI's ``LoadImaged`` needs a file for every key, hence this transform.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform

from monai_weakloc.transforms.load_2d import LoadImage2D

__all__ = ["LoadLesionMaskd"]


class LoadLesionMaskd(MapTransform):
    """Replace each mask path under ``keys`` with a float32 (1, H, W) label of 0 and 1 (any value > 0 is lesion);
    a ``None`` path becomes zeros of the size of ``reference_key``'s image.

    Args:
        keys: keys holding a mask path or ``None``.
        reference_key: key of the loaded (C, H, W) image an empty mask takes its size from.
        allow_missing_keys: don't raise if one of ``keys`` is missing.
    """

    def __init__(self, keys: KeysCollection, reference_key: str = "image", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.reference_key = reference_key
        self.loader = LoadImage2D(mode="gray")

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        """Args:
            data: a record whose ``reference_key`` holds a (C, H, W) image and ``keys`` mask paths or ``None``.

        Raises:
            ValueError: naming the mask file, when its size differs from the image's.
        """
        d = dict(data)
        image = d[self.reference_key]
        if not isinstance(image, torch.Tensor) or image.ndim != 3:
            raise ValueError(f"LoadLesionMaskd: {self.reference_key!r} must be a loaded (C, H, W) image")
        for key in self.key_iterator(d):
            path = d[key]
            if path is None:
                d[key] = MetaTensor(torch.zeros((1, *image.shape[1:]), dtype=torch.float32))
                continue
            mask = self.loader(Path(path))
            if tuple(mask.shape[1:]) != tuple(image.shape[1:]):
                raise ValueError(
                    f"{path}: mask size {tuple(mask.shape[1:])} differs from its image's {tuple(image.shape[1:])}"
                )
            d[key] = (mask > 0).to(torch.float32)
        return d
