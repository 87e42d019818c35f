"""Input checks shared by the 2D transforms: channel-first shape, numeric type, where an image came from."""

from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor
from monai.utils import ImageMetaKey


def image_source(img: object) -> str:
    """Say where an image came from, for error messages.

    Args:
        img: an image; a ``MetaTensor`` loaded from a file knows its file name.

    Returns:
        ``"image '<file>'"`` when the file is known, otherwise ``"image"``.
    """
    if isinstance(img, MetaTensor):
        filename = img.meta.get(ImageMetaKey.FILENAME_OR_OBJ)
        if filename:
            return f"image {str(filename)!r}"
    return "image"


def check_channel_first_2d(img: object, transform_name: str) -> None:
    """Check that ``img`` is a numeric channel-first 2D image of shape (C, H, W).

    Args:
        img: the image to check.
        transform_name: the transform doing the check, named in the error message.

    Raises:
        TypeError: if ``img`` is not a numpy array or torch tensor of a real numeric type.
        ValueError: if ``img`` is not 3D (C, H, W) or has an empty dimension.
    """
    if not isinstance(img, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{transform_name}: expected a numpy array or torch tensor, got {type(img).__name__}")
    numeric = img.dtype.kind in "biuf" if isinstance(img, np.ndarray) else not img.dtype.is_complex
    if not numeric:
        raise TypeError(f"{transform_name}: {image_source(img)} has non-numeric dtype {img.dtype}")
    if img.ndim != 3:
        raise ValueError(
            f"{transform_name}: {image_source(img)} must be channel-first 2D (C, H, W), got shape {tuple(img.shape)}"
        )
    if min(img.shape) == 0:
        raise ValueError(f"{transform_name}: {image_source(img)} is empty, shape {tuple(img.shape)}")
