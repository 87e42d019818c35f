"""Zoom-in-Net M-Net: the main grading network on the low-resolution image (Wang et al., MICCAI 2017)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from weakloc_networks.inception_resnet import InceptionResNet

__all__ = ["MNet"]


class MNet(nn.Module):
    """Inception-ResNet backbone giving the feature map M, global average pooling and a linear grade head.

    With ``paired_eyes=True`` the fellow eye of the same patient goes through the same backbone (one batch
    of 2B images), the two pooled features are concatenated, (image, fellow), and the head predicts the
    grade of the first eye. With ``paired_eyes=False`` (datasets without pairs, such as Messidor) only the
    image's own pooled feature is used.

    Standalone use in a MONAI ``SupervisedTrainer`` (training phase 1): the network returns logits, so a
    plain ``torch.nn.CrossEntropyLoss`` works; pass the fellow eye with
    ``prepare_batch=monai.engines.PrepareBatchExtraInput(extra_keys="fellow")``.

    Args:
        spatial_dims: must be 2.
        in_channels: image channels.
        num_classes: number of grades K.
        paired_eyes: whether the forward takes the fellow eye too.
        width_multiplier: backbone width (see :class:`InceptionResNet`).
        blocks_per_stage: backbone residual blocks in stages A, B, C.
        feature_channels: channels C of M; default ``1024 * width_multiplier``.
        padding: backbone padding, "valid" (M is 14 x 14 at 492 px) or "same".
        dropout_prob: dropout before the linear head.

    Attributes:
        embedding_channels: width of the pooled feature the head classifies (C, or 2C with pairs).
        cam_target_layer: name of the module whose output is M (for ``monai.visualize.GradCAM``).
    """

    cam_target_layer: str = "backbone.projection"

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        num_classes: int = 5,
        paired_eyes: bool = True,
        width_multiplier: float = 1.0,
        blocks_per_stage: Sequence[int] = (5, 10, 5),
        feature_channels: int | None = None,
        padding: str = "valid",
        dropout_prob: float = 0.0,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"MNet: num_classes must be at least 2, got {num_classes}")
        self.backbone = InceptionResNet(
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            width_multiplier=width_multiplier,
            blocks_per_stage=blocks_per_stage,
            feature_channels=feature_channels,
            padding=padding,
        )
        self.paired_eyes = paired_eyes
        self.feature_channels = self.backbone.out_channels
        self.embedding_channels = self.feature_channels * (2 if paired_eyes else 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout_prob)
        self.classifier = nn.Linear(self.embedding_channels, num_classes)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """The feature map M.

        Args:
            image: (B, in_channels, H, W).

        Returns:
            M, (B, C, h, w) at stride 32 (1024 x 14 x 14 for a 492 px image at the default sizes).
        """
        return self.backbone.features(image)

    def paired_features(
        self, image: torch.Tensor, fellow: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """M of the image and, with pairs, of the fellow eye, in one backbone pass.

        Args:
            image: (B, in_channels, H, W).
            fellow: (B, in_channels, H, W) with ``paired_eyes``; must be ``None`` without.

        Returns:
            (M of the image (B, C, h, w), M of the fellow (B, C, h, w) or ``None``).

        Raises:
            ValueError: if ``fellow`` is missing with pairs, given without pairs, or of another shape.
        """
        if not self.paired_eyes:
            if fellow is not None:
                raise ValueError("MNet: fellow eye given but paired_eyes=False")
            return self.backbone.features(image), None
        if fellow is None:
            raise ValueError("MNet: paired_eyes=True needs the fellow eye image (argument 'fellow')")
        if fellow.shape != image.shape:
            raise ValueError(
                f"MNet: fellow eye shape {list(fellow.shape)} differs from image shape {list(image.shape)}"
            )
        both = self.backbone.features(torch.cat([image, fellow], dim=0))
        own, other = torch.split(both, image.shape[0], dim=0)
        return own, other

    def embed(self, feature_map: torch.Tensor, fellow_feature_map: torch.Tensor | None = None) -> torch.Tensor:
        """Global-average-pooled M, concatenated with the fellow eye's when paired.

        Args:
            feature_map: M, (B, C, h, w).
            fellow_feature_map: the fellow eye's M, (B, C, h, w), or ``None`` without pairs.

        Returns:
            (B, embedding_channels).
        """
        embedding = torch.flatten(self.pool(feature_map), 1)
        if fellow_feature_map is not None:
            embedding = torch.cat([embedding, torch.flatten(self.pool(fellow_feature_map), 1)], dim=1)
        return embedding

    def classify(self, embedding: torch.Tensor) -> torch.Tensor:
        """Args: embedding: (B, embedding_channels). Returns: grade logits y_M, (B, num_classes)."""
        return self.classifier(self.dropout(embedding))

    def forward(self, image: torch.Tensor, fellow: torch.Tensor | None = None) -> torch.Tensor:
        """Grade logits of the first eye.

        Args:
            image: (B, in_channels, H, W).
            fellow: the fellow eye, (B, in_channels, H, W), with ``paired_eyes``; ``None`` without.

        Returns:
            y_M, (B, num_classes).
        """
        own, other = self.paired_features(image, fellow)
        return self.classify(self.embed(own, other))
