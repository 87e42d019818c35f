"""Images in the layouts matplotlib displays."""

from __future__ import annotations

import numpy as np
from monai.config import NdarrayOrTensor
from monai.utils import convert_to_numpy

__all__ = ["display_image"]


def display_image(image: NdarrayOrTensor, name: str = "image") -> np.ndarray:
    """Turn a channel-first or grayscale image into an array for ``imshow``, min-max scaled to [0, 1].

    Args:
        image: (H, W), (1, H, W) or (3, H, W) array or tensor; (4, H, W), RGBA as some PNGs are stored
            (ChestX-ray14 has RGBA images), has its alpha channel dropped.
        name: the argument name used in error messages.

    Returns:
        (H, W) float array for a grayscale image, (H, W, 3) for an RGB one.

    Raises:
        ValueError: on another shape.
    """
    pixels = convert_to_numpy(image, dtype=np.float64)
    if pixels.ndim == 3 and pixels.shape[0] == 4:
        pixels = pixels[:3]
    if pixels.ndim == 3 and pixels.shape[0] in (1, 3):
        pixels = pixels[0] if pixels.shape[0] == 1 else np.moveaxis(pixels, 0, -1)
    if pixels.ndim != 2 and not (pixels.ndim == 3 and pixels.shape[-1] == 3):
        raise ValueError(f"{name} must have shape (H, W), (1, H, W) or (3, H, W), got {tuple(image.shape)}")
    low, high = pixels.min(), pixels.max()
    return (pixels - low) / (high - low) if high > low else np.zeros_like(pixels)
