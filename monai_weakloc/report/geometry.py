"""Put a heatmap, or the field of view, back into the geometry of the original image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import NdarrayOrTensor
from monai.utils import convert_to_tensor

from monai_weakloc.localize.heatmap import heatmap_batch, resize_heatmaps
from monai_weakloc.localize.region import validate_size

__all__ = ["validate_crop_box", "restore_heatmap_geometry", "restore_field_of_view"]


def validate_crop_box(crop_box: Sequence[int], original_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Check a crop box ``(x0, y0, x1, y1)`` (integer pixels, exclusive ends) against an image (H, W).

    Raises:
        ValueError: when the box is not four integers with ``0 <= x0 < x1 <= W`` and ``0 <= y0 < y1 <= H``.
    """
    if len(crop_box) != 4 or any(int(value) != value for value in crop_box):
        raise ValueError(f"crop_box must be four integers (x0, y0, x1, y1), got {tuple(crop_box)}")
    x0, y0, x1, y1 = (int(value) for value in crop_box)
    height, width = original_size
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise ValueError(
            f"crop_box (x0, y0, x1, y1) = {(x0, y0, x1, y1)} does not lie inside the image of (H, W) = {original_size}"
        )
    return x0, y0, x1, y1


def restore_heatmap_geometry(
    heatmap: NdarrayOrTensor,
    original_size: Sequence[int] | None = None,
    crop_box: Sequence[int] | None = None,
) -> np.ndarray:
    """Resize a heatmap back to the original image, optionally undoing a crop.

    Without ``crop_box`` the map is resized bilinearly to ``original_size``. With it, the map covered the
    crop ``(x0, y0, x1, y1)`` of the original image: it is resized to the box and placed there, zero elsewhere.

    Args:
        heatmap: (h, w) array or tensor.
        original_size: (H, W) of the original image; ``None`` keeps (h, w) (and then no crop box is allowed).
        crop_box: ``(x0, y0, x1, y1)`` in integer pixels of the original image, exclusive ends.

    Returns:
        (H, W) float32 array.

    Raises:
        ValueError: when the heatmap is not 2-D, or the size or box is bad.
    """
    maps = heatmap_batch(heatmap)
    if heatmap.ndim != 2:
        raise ValueError(f"heatmap must have shape (h, w), got {tuple(heatmap.shape)}")
    if original_size is None:
        if crop_box is not None:
            raise ValueError("crop_box needs original_size, the (H, W) of the image the box lies on")
        return maps[0].numpy()
    size = validate_size(original_size, "original_size")
    if crop_box is None:
        return resize_heatmaps(maps, size)[0].numpy()
    x0, y0, x1, y1 = validate_crop_box(crop_box, size)
    restored = np.zeros(size, dtype=np.float32)
    restored[y0:y1, x0:x1] = resize_heatmaps(maps, (y1 - y0, x1 - x0))[0].numpy()
    return restored


def restore_field_of_view(
    fov_input: NdarrayOrTensor, original_size: Sequence[int], crop_box: Sequence[int] | None = None
) -> np.ndarray:
    """The field of view in pixels of the original image, from the mask the network input carried.

    The mask covered the crop ``(x0, y0, x1, y1)`` of the original image (the whole image without
    ``crop_box``): it is resized there by the nearest pixel (``nearest-exact``, centres aligned as in the
    resize that made it) and everything outside the crop is outside the field of view.

    Args:
        fov_input: (h, w) mask in network-input pixels, true (or > 0.5) inside.
        original_size: (H, W) of the original image.
        crop_box: ``(x0, y0, x1, y1)`` in integer pixels of the original image, exclusive ends.

    Returns:
        (H, W) bool array.

    Raises:
        TypeError: when ``fov_input`` is not an array or tensor.
        ValueError: when it is not 2-D and non-empty, or the size or box is bad.
    """
    if not isinstance(fov_input, (np.ndarray, torch.Tensor)):
        raise TypeError(f"fov_input must be a numpy array or a torch tensor, got {type(fov_input).__name__}")
    if fov_input.ndim != 2 or min(fov_input.shape) == 0:
        raise ValueError(f"fov_input must have shape (h, w), got {tuple(fov_input.shape)}")
    size = validate_size(original_size, "original_size")
    x0, y0, x1, y1 = (0, 0, size[1], size[0]) if crop_box is None else validate_crop_box(crop_box, size)
    mask = convert_to_tensor(fov_input, track_meta=False).detach().cpu()
    inside = (mask if mask.dtype == torch.bool else mask > 0.5).to(torch.float32)[None, None]
    resized = F.interpolate(inside, size=(y1 - y0, x1 - x0), mode="nearest-exact")[0, 0] > 0.5
    restored = np.zeros(size, dtype=bool)
    restored[y0:y1, x0:x1] = resized.numpy()
    return restored
