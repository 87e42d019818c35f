"""Write a heatmap as NIfTI in the original image geometry, with nibabel.

The array is stored in the NIfTI/ITK order (W, H) float32: voxel ``[x, y]`` is column ``x`` (left to right),
row ``y`` (top to bottom), the order in which ITK and MONAI's default readers store and read 2-D images, so
viewers show the map the way the fundus image looks and :class:`monai_weakloc.transforms.LoadImage2D` reads it
back as (1, H, W). The affine is ``diag(spacing_x, spacing_y, 1, 1)`` (identity by default) and no resampling
happens: ``nibabel.load(path).get_fdata()[x, y]`` is the map's value at column x, row y.

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
        pixel_spacing: (row spacing, column spacing); the affine's diagonal is (column, row) spacing.

    Returns:
        The path written.

    Raises:
        ValueError: on a bad heatmap, size, box or spacing.
    """
    if len(pixel_spacing) != 2 or any(spacing <= 0 for spacing in pixel_spacing):
        raise ValueError(f"pixel_spacing must be two positive numbers (row, column), got {tuple(pixel_spacing)}")
    restored = restore_heatmap_geometry(heatmap, original_size, crop_box)
    affine = np.diag([float(pixel_spacing[1]), float(pixel_spacing[0]), 1.0, 1.0])
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(np.ascontiguousarray(restored.T, dtype=np.float32), affine)
    image.set_sform(affine, code=1)
    image.set_qform(affine, code=1)
    nib.save(image, output)
    return output
