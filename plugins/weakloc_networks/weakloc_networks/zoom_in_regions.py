"""Zoom-in-Net region sampling and high-resolution crops.

Greedy region sampling (Wang et al., MICCAI 2017): on a heatmap at image size, repeatedly take the
arg-max, record the s x s square around it (shifted to lie inside the map), mask that square out, and
stop after N regions or when the remaining maximum falls below a threshold. The crops for the C-Net are
then taken at the same relative places on the high-resolution image. Neither MONAI nor the host package
provides this sampling on batched tensors, hence this module.
"""

from __future__ import annotations

import torch

__all__ = ["corners_to_boxes", "extract_crops", "map_corners", "sample_regions"]


def sample_regions(
    heatmap: torch.Tensor, region_size: int, num_regions: int, threshold: float | None = None
) -> torch.Tensor:
    """Greedy non-overlapping region sampling on a batch of heatmaps.

    Each step takes the arg-max of what remains of the map (the first in row-major order on ties),
    centres an s x s square on it, shifts the square to lie inside the map, records its top-left corner,
    and masks the square out. An image stops when its remaining maximum is below ``threshold`` or when
    nothing is left; its later rows are -1.

    Args:
        heatmap: (B, H, W) response map at image size; not modified.
        region_size: side s of the square regions, in pixels; at most min(H, W).
        num_regions: the most regions N per image.
        threshold: stop an image when its remaining maximum is below this; ``None`` always takes N.

    Returns:
        (B, N, 2) long top-left corners (x, y) in pixels, rows of -1 for regions not taken.

    Raises:
        ValueError: on a heatmap that is not 3D or holds NaN, or sizes out of range.
    """
    if heatmap.ndim != 3:
        raise ValueError(f"sample_regions: heatmap must be (B, H, W), got shape {tuple(heatmap.shape)}")
    batch, height, width = heatmap.shape
    if not 1 <= region_size <= min(height, width):
        raise ValueError(f"sample_regions: region_size {region_size} must be in [1, {min(height, width)}] for a {height} x {width} map")
    if num_regions < 1:
        raise ValueError(f"sample_regions: num_regions must be at least 1, got {num_regions}")
    if torch.isnan(heatmap).any():
        raise ValueError("sample_regions: heatmap holds NaN")
    remaining = heatmap.detach().float().clone()
    corners = torch.full((batch, num_regions, 2), -1, dtype=torch.long, device=heatmap.device)
    rows = torch.arange(height, device=heatmap.device)
    cols = torch.arange(width, device=heatmap.device)
    active = torch.ones(batch, dtype=torch.bool, device=heatmap.device)
    half = region_size // 2
    for index in range(num_regions):
        peak, flat_index = remaining.flatten(1).max(dim=1)
        active = active & torch.isfinite(peak)
        if threshold is not None:
            active = active & (peak >= threshold)
        top = (flat_index // width - half).clamp(0, height - region_size)
        left = (flat_index % width - half).clamp(0, width - region_size)
        corners[:, index, 0] = torch.where(active, left, -1)
        corners[:, index, 1] = torch.where(active, top, -1)
        in_rows = (rows[None] >= top[:, None]) & (rows[None] < top[:, None] + region_size)
        in_cols = (cols[None] >= left[:, None]) & (cols[None] < left[:, None] + region_size)
        square = in_rows[:, :, None] & in_cols[:, None, :] & active[:, None, None]
        remaining = remaining.masked_fill(square, float("-inf"))
    return corners


def corners_to_boxes(corners: torch.Tensor, region_size: int) -> torch.Tensor:
    """Top-left corners to square boxes.

    Args:
        corners: (B, N, 2) long (x, y), -1 rows for regions not taken.
        region_size: side of the squares.

    Returns:
        (B, N, 4) long boxes (x, y, w, h), -1 rows kept.
    """
    sizes = torch.full_like(corners, region_size)
    boxes = torch.cat([corners, sizes], dim=-1)
    return boxes.masked_fill(corners[..., :1] < 0, -1)


def map_corners(
    corners: torch.Tensor,
    region_size: int,
    source_size: tuple[int, int],
    target_size: tuple[int, int],
    crop_size: int,
) -> torch.Tensor:
    """Top-left corners of ``crop_size`` crops centred at the same relative places on a larger image.

    The centre of each source region is scaled by target/source per axis; the crop is centred there and
    shifted to lie inside the target image.

    Args:
        corners: (B, N, 2) long (x, y) of regions in the source image, -1 rows for regions not taken.
        region_size: side of the source regions.
        source_size: (H, W) of the source (low-resolution) image.
        target_size: (H, W) of the target (high-resolution) image.
        crop_size: side of the target crops; at most min(target_size).

    Returns:
        (B, N, 2) long (x, y) of the crops in the target image, -1 rows kept.

    Raises:
        ValueError: if ``crop_size`` does not fit in the target image.
    """
    if not 1 <= crop_size <= min(target_size):
        raise ValueError(f"map_corners: crop_size {crop_size} must be in [1, {min(target_size)}] for a {target_size} image")
    scale = torch.tensor(
        [target_size[1] / source_size[1], target_size[0] / source_size[0]], dtype=torch.float64, device=corners.device
    )
    limit = torch.tensor([target_size[1] - crop_size, target_size[0] - crop_size], device=corners.device)
    centres = (corners.double() + region_size / 2) * scale
    crop_corners = torch.floor(centres - crop_size / 2 + 0.5).long()
    crop_corners = torch.minimum(crop_corners.clamp(min=0), limit)
    return crop_corners.masked_fill(corners < 0, -1)


def extract_crops(image: torch.Tensor, crop_corners: torch.Tensor, crop_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut the taken crops out of a batch of images, as one batch.

    Args:
        image: (B, C, H, W).
        crop_corners: (B, N, 2) long (x, y) inside the image, -1 rows for crops not taken.
        crop_size: side of the crops.

    Returns:
        (crops (P, C, crop_size, crop_size) in row-major (b, n) order of the taken crops,
        taken (B, N) bool), P = taken.sum().
    """
    taken = crop_corners[..., 0] >= 0
    crops = []
    for b, n in taken.nonzero().tolist():
        x, y = crop_corners[b, n].tolist()
        crops.append(image[b, :, y : y + crop_size, x : x + crop_size])
    if not crops:
        return image.new_zeros((0, image.shape[1], crop_size, crop_size)), taken
    return torch.stack(crops), taken
