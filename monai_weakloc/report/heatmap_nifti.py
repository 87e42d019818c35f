"""Write a heatmap as NIfTI in the original image geometry, with nibabel.

The array is stored as (H, W) float32: voxel ``[i, j]`` is row ``i`` (top to bottom), column ``j`` (left to
right), as ``LoadImage`` gives a PNG with ``PILReader(reverse_indexing=False)``. The affine is
``diag(spacing_y, spacing_x, 1, 1)`` (identity by default) and no resampling happens, so ``nibabel.load(path)
.get_fdata()[y, x]`` is the map's value at row y, column x. Viewers that display in RAS orientation show the
first axis left to right, so the image looks transposed there; the array indices are what is kept.

MONAI's ``NibabelWriter`` (monai 1.6.1) fails on a 2-D array with ``resample=False`` (``SpatialResample`` gets
no spatial size) and only writes a trailing singleton axis (H, W, 1) otherwise, so nibabel is called
directly, setting the sform and qform as ``NibabelWriter`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from monai.config import NdarrayOrTensor, PathLike

from monai_weakloc.report.geometry import restore_heatmap_geometry

__all__ = ["write_heatmap_nifti"]


def write_heatmap_nifti(
    heatmap: NdarrayOrTensor,
    path: PathLike,
    original_size: Sequence[int] | None = None,
    crop_box: Sequence[int] | None = None,
    pixel_spacing: Sequence[float] = (1.0, 1.0),
) -> Path:
    """Write a heatmap as a 2-D NIfTI file (``.nii`` or ``.nii.gz``), in the geometry of the original image.

    Args:
        heatmap: (h, w) array or tensor.
        path: the file to write (parent folders are created).
        original_size: (H, W) of the original image; ``None`` keeps (h, w).
        crop_box: ``(x0, y0, x1, y1)`` of the original image the map covered (see
            :func:`~monai_weakloc.report.geometry.restore_heatmap_geometry`).
        pixel_spacing: (row spacing, column spacing) put on the affine's diagonal.

    Returns:
        The path written.

    Raises:
        ValueError: on a bad heatmap, size, box or spacing.
    """
    if len(pixel_spacing) != 2 or any(spacing <= 0 for spacing in pixel_spacing):
        raise ValueError(f"pixel_spacing must be two positive numbers (row, column), got {tuple(pixel_spacing)}")
    restored = restore_heatmap_geometry(heatmap, original_size, crop_box)
    affine = np.diag([float(pixel_spacing[0]), float(pixel_spacing[1]), 1.0, 1.0])
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(restored.astype(np.float32), affine)
    image.set_sform(affine, code=1)
    image.set_qform(affine, code=1)
    nib.save(image, output)
    return output
