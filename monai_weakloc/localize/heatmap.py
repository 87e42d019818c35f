"""Heatmap input checks and resizing shared by the localization primitives."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import NdarrayOrTensor
from monai.utils import convert_to_tensor

__all__ = ["heatmap_batch", "resize_heatmaps"]


def heatmap_batch(heatmap: NdarrayOrTensor, name: str = "heatmap") -> torch.Tensor:
    """Return a heatmap (H, W) or a batch of heatmaps (B, H, W) as a float32 CPU tensor (B, H, W).

    Args:
        heatmap: array or tensor of shape (H, W) or (B, H, W), finite values.
        name: the argument name used in error messages.

    Raises:
        TypeError: when ``heatmap`` is not an array or tensor.
        ValueError: when it has another number of dimensions, is empty or holds NaN/inf.
    """
    if not isinstance(heatmap, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(heatmap).__name__}")
    maps = convert_to_tensor(heatmap, dtype=torch.float32, track_meta=False).detach().cpu()
    if maps.ndim == 2:
        maps = maps[None]
    if maps.ndim != 3:
        raise ValueError(f"{name} must have shape (H, W) or (B, H, W), got {tuple(heatmap.shape)}")
    if maps.numel() == 0:
        raise ValueError(f"{name} is empty: shape {tuple(heatmap.shape)}")
    if not torch.isfinite(maps).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return maps


def resize_heatmaps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize heatmaps bilinearly (``align_corners=False``, as MONAI's ``Resize``) to ``size``.

    Args:
        maps: (B, H, W) float tensor.
        size: target (H', W').

    Returns:
        (B, H', W') tensor; ``maps`` itself when the size already matches.
    """
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
