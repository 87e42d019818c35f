"""Class activation maps from classifier weights, and spatial-softmax attention maps.

``monai.visualize.CAM`` hooks a layer of a running network, upsamples and applies its default normaliser
(which flips maps, see DESIGN.md). The methods here need the raw class score maps of feature maps they
already hold (the self-transfer localizer's 1x1-conv maps, a CAM from a linear head), hence these functions.
"""

from __future__ import annotations

import torch

__all__ = ["class_activation_maps", "spatial_softmax"]


def class_activation_maps(
    features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Class score maps of a 1x1 convolution (or of a linear classifier applied at every location).

    ``maps[b, k, y, x] = sum_c weight[k, c] * features[b, c, y, x] + bias[k]``. With global average pooling
    in front of a linear classifier, the spatial mean of the maps equals the classifier's logits.

    Args:
        features: (B, C, *spatial) feature maps.
        weight: (K, C) linear weights or (K, C, 1, ..., 1) 1x1-conv weights.
        bias: (K,) or ``None``.

    Returns:
        (B, K, *spatial) class maps.

    Raises:
        ValueError: when the shapes do not match.
    """
    if features.ndim < 3:
        raise ValueError(f"features must have shape (B, C, *spatial), got {tuple(features.shape)}")
    if weight.ndim < 2 or any(size != 1 for size in weight.shape[2:]):
        raise ValueError(f"weight must have shape (K, C) or (K, C, 1, ..., 1), got {tuple(weight.shape)}")
    matrix = weight.reshape(weight.shape[0], weight.shape[1])
    if matrix.shape[1] != features.shape[1]:
        raise ValueError(f"weight has {matrix.shape[1]} input channels, features have {features.shape[1]}")
    maps = torch.einsum("kc,bc...->bk...", matrix, features)
    if bias is None:
        return maps
    if bias.shape != (matrix.shape[0],):
        raise ValueError(f"bias must have shape ({matrix.shape[0]},), got {tuple(bias.shape)}")
    return maps + bias.reshape((1, -1) + (1,) * (features.ndim - 2))


def spatial_softmax(maps: torch.Tensor) -> torch.Tensor:
    """Softmax over all spatial positions of each channel: every (b, k) map sums to 1.

    Args:
        maps: (B, K, *spatial) scores.

    Returns:
        (B, K, *spatial) attention weights.
    """
    if maps.ndim < 3:
        raise ValueError(f"maps must have shape (B, K, *spatial), got {list(maps.shape)}")
    return torch.softmax(maps.flatten(2), dim=2).reshape(maps.shape)
