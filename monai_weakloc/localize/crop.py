"""Fixed-size crops around centres, shifted to stay inside the image.

MONAI's ``SpatialCrop(roi_center=..., roi_size=...)`` clips a crop at the border (the crop comes out smaller)
and ``ResizeWithPadOrCrop`` pads; Zoom-in-Net and the saliency-crop classifier need crops of one fixed size
taken from inside the image, with their boxes to map results back. Coordinates follow
:mod:`monai_weakloc.localize.region`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral
from typing import NamedTuple

import numpy as np
import torch
from monai.config import NdarrayOrTensor

from monai_weakloc.localize.region import validate_size

__all__ = ["CropBatch", "crop_box", "crop_around", "crop_around_batch"]


class CropBatch(NamedTuple):
    """Crops taken from a batch of images.

    Attributes:
        crops: (N, C, h, w), same type as the images.
        image_indices: for each crop, the index of its image in the batch.
        boxes: for each crop, its box ``(x0, y0, x1, y1)`` in pixels of its image.
    """

    crops: NdarrayOrTensor
    image_indices: list[int]
    boxes: list[tuple[int, int, int, int]]


def _crop_size(crop_size: int | Sequence[int]) -> tuple[int, int]:
    return validate_size((crop_size, crop_size) if isinstance(crop_size, Integral) else crop_size, "crop_size")


def crop_box(
    centre: Sequence[float], crop_size: int | Sequence[int], image_size: Sequence[int]
) -> tuple[int, int, int, int]:
    """Box of a ``crop_size`` crop centred on ``centre``, shifted to lie inside the image.

    The crop starts at ``floor(x - w / 2 + 0.5)`` (so a centre at a pixel centre and an odd size give a
    crop centred on that pixel) and is then shifted, not clipped, to fit in ``[0, W) x [0, H)``.

    Args:
        centre: ``(x, y)`` in pixels of the image, inside ``[0, W] x [0, H]``.
        crop_size: side of a square crop, or (h, w).
        image_size: (H, W).

    Returns:
        ``(x0, y0, x1, y1)`` with ``x1 - x0 == w`` and ``y1 - y0 == h``.

    Raises:
        ValueError: when the image is smaller than the crop, or the centre lies outside the image.
    """
    crop_h, crop_w = _crop_size(crop_size)
    height, width = validate_size(image_size, "image_size")
    if crop_h > height or crop_w > width:
        raise ValueError(
            f"crop_size (h, w) = ({crop_h}, {crop_w}) does not fit in an image of (H, W) = ({height}, {width})"
        )
    if len(centre) != 2:
        raise ValueError(f"centre must be (x, y), got {tuple(centre)}")
    centre_x, centre_y = float(centre[0]), float(centre[1])
    if not (0 <= centre_x <= width and 0 <= centre_y <= height):
        raise ValueError(
            f"centre (x, y) = ({centre_x}, {centre_y}) lies outside the image of (H, W) = ({height}, {width})"
        )
    x0 = min(max(math.floor(centre_x - crop_w / 2 + 0.5), 0), width - crop_w)
    y0 = min(max(math.floor(centre_y - crop_h / 2 + 0.5), 0), height - crop_h)
    return x0, y0, x0 + crop_w, y0 + crop_h


def crop_around(
    image: NdarrayOrTensor, centre: Sequence[float], crop_size: int | Sequence[int]
) -> tuple[NdarrayOrTensor, tuple[int, int, int, int]]:
    """Crop a channel-first image around a centre, shifted to stay inside (see :func:`crop_box`).

    Args:
        image: (C, H, W) array or tensor.
        centre: ``(x, y)`` in pixels of the image.
        crop_size: side of a square crop, or (h, w).

    Returns:
        The crop (C, h, w), a view of ``image``, and its box ``(x0, y0, x1, y1)``.

    Raises:
        ValueError: when ``image`` is not (C, H, W), is smaller than the crop, or the centre lies outside it.
    """
    if image.ndim != 3:
        raise ValueError(f"image must have shape (C, H, W), got {tuple(image.shape)}")
    x0, y0, x1, y1 = crop_box(centre, crop_size, tuple(image.shape[-2:]))
    return image[:, y0:y1, x0:x1], (x0, y0, x1, y1)


def crop_around_batch(
    images: NdarrayOrTensor, centres: Sequence[Sequence[Sequence[float]]], crop_size: int | Sequence[int]
) -> CropBatch:
    """Crop several centres per image from a batch.

    Args:
        images: (B, C, H, W) array or tensor.
        centres: B sequences (one per image, possibly empty) of ``(x, y)`` centres.
        crop_size: side of a square crop, or (h, w).

    Returns:
        The crops stacked image by image, in the order of ``centres``, with their image indices and boxes.

    Raises:
        ValueError: on a bad shape, a number of centre lists other than B, or a centre that cannot be
            cropped (the message names the image index and the centre's position).
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    if len(centres) != images.shape[0]:
        raise ValueError(f"centres must hold one sequence per image: {len(centres)} for a batch of {images.shape[0]}")
    crop_h, crop_w = _crop_size(crop_size)
    crops, image_indices, boxes = [], [], []
    for image_index, image_centres in enumerate(centres):
        for centre_index, centre in enumerate(image_centres):
            try:
                crop, box = crop_around(images[image_index], centre, (crop_h, crop_w))
            except ValueError as error:
                raise ValueError(f"image {image_index}, centre {centre_index}: {error}") from error
            crops.append(crop)
            image_indices.append(image_index)
            boxes.append(box)
    if isinstance(images, torch.Tensor):
        stacked = torch.stack(crops) if crops else images.new_zeros((0, images.shape[1], crop_h, crop_w))
    else:
        stacked = np.stack(crops) if crops else np.zeros((0, images.shape[1], crop_h, crop_w), dtype=images.dtype)
    return CropBatch(crops=stacked, image_indices=image_indices, boxes=boxes)
