"""Zoom-in-Net C-Net: grading from high-resolution crops of the suspicious regions (Wang et al., MICCAI 2017)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from weakloc_networks.inception_resnet import InceptionResNet

__all__ = ["CNet"]


class CNet(nn.Module):
    """Inception-ResNet on every crop (all crops of the batch as one batch), global average pooling,
    element-wise max over each image's crops, concatenation with the M-Net embedding, linear grade head.

    An image with fewer than N crops (early stop of the region sampling) takes the max over the crops it
    has; an image with none gets a zero crop feature. Zero is neutral for the max: the pooled features
    follow a ReLU, so they are never negative.

    Args:
        spatial_dims: must be 2.
        in_channels: image channels.
        num_classes: number of grades K.
        context_channels: width of the M-Net embedding concatenated before the head.
        width_multiplier: backbone width (see :class:`InceptionResNet`).
        blocks_per_stage: backbone residual blocks in stages A, B, C.
        feature_channels: channels of the crop features; default ``1024 * width_multiplier``.
        padding: backbone padding, "valid" or "same".
        dropout_prob: dropout before the linear head.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        num_classes: int = 5,
        context_channels: int = 2048,
        width_multiplier: float = 1.0,
        blocks_per_stage: Sequence[int] = (5, 10, 5),
        feature_channels: int | None = None,
        padding: str = "valid",
        dropout_prob: float = 0.0,
    ) -> None:
        super().__init__()
        self.backbone = InceptionResNet(
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            width_multiplier=width_multiplier,
            blocks_per_stage=blocks_per_stage,
            feature_channels=feature_channels,
            padding=padding,
        )
        self.feature_channels = self.backbone.out_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout_prob)
        self.classifier = nn.Linear(self.feature_channels + context_channels, num_classes)

    def crop_features(self, crops: torch.Tensor, taken: torch.Tensor) -> torch.Tensor:
        """Element-wise max of each image's pooled crop features.

        Args:
            crops: (P, in_channels, s, s), the taken crops in row-major (b, n) order of ``taken``.
            taken: (B, N) bool, which regions were taken; P = taken.sum().

        Returns:
            (B, feature_channels); zeros for an image without crops.

        Raises:
            ValueError: if the number of crops differs from the number of taken regions.
        """
        batch, num_regions = taken.shape
        if crops.shape[0] != int(taken.sum()):
            raise ValueError(f"CNet: {crops.shape[0]} crops for {int(taken.sum())} taken regions")
        per_region = crops.new_zeros((batch * num_regions, self.feature_channels))
        if crops.shape[0] > 0:
            pooled = torch.flatten(self.pool(self.backbone.features(crops)), 1)
            per_region = per_region.index_put((taken.flatten().nonzero().squeeze(1),), pooled)
        return per_region.reshape(batch, num_regions, self.feature_channels).amax(dim=1)

    def forward(self, crops: torch.Tensor, taken: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Args:
            crops: (P, in_channels, s, s), the taken crops in row-major (b, n) order of ``taken``.
            taken: (B, N) bool.
            context: the M-Net embedding, (B, context_channels).

        Returns:
            y_C, (B, num_classes).
        """
        features = torch.cat([self.crop_features(crops, taken), context], dim=1)
        return self.classifier(self.dropout(features))
