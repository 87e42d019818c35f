"""Zoom-in-Net A-Net: gated attention on the M-Net feature map (Wang et al., MICCAI 2017)."""

from __future__ import annotations

import torch
from torch import nn

from monai_weakloc.localize import spatial_softmax
from weakloc_networks.conv_batchnorm_relu import ConvBatchNormReLU

__all__ = ["ANet"]


class ANet(nn.Module):
    """Two parts on the feature map M (B, C, h, w):

    - part I, a 1 x 1 convolution giving one score map per grade, S (B, K, h, w);
    - part II, three convolutions (1 x 1 -> BN -> ReLU, 3 x 3 -> BN -> ReLU, 1 x 1 to K channels) followed by
      a spatial softmax, giving one attention map per grade, A (B, K, h, w), each summing to 1 over space.

    The gated maps are G = S * A and the A-Net logits are y_A = sum of G over space (B, K): an
    attention-weighted average of the score maps, so the attention has to find where the evidence of
    each grade lies.

    The spatial softmax is the shared :func:`monai_weakloc.localize.spatial_softmax`; its input check is not
    TorchScript-able, so export this network with ``torch.jit.trace(..., strict=False)`` or ``torch.export``.

    Args:
        spatial_dims: must be 2.
        in_channels: channels C of M.
        num_classes: number of grades K.
        attention_channels: width of the first two attention convolutions.
    """

    def __init__(
        self, spatial_dims: int = 2, in_channels: int = 1024, num_classes: int = 5, attention_channels: int = 256
    ) -> None:
        super().__init__()
        if spatial_dims != 2:
            raise ValueError(f"ANet: spatial_dims must be 2, got {spatial_dims}")
        if num_classes < 2:
            raise ValueError(f"ANet: num_classes must be at least 2, got {num_classes}")
        self.score = nn.Conv2d(in_channels, num_classes, kernel_size=1)
        self.attention = nn.Sequential(
            ConvBatchNormReLU(in_channels, attention_channels, 1),
            ConvBatchNormReLU(attention_channels, attention_channels, 3, padding=1),
            nn.Conv2d(attention_channels, num_classes, kernel_size=1),
        )

    def forward(self, feature_map: torch.Tensor) -> dict[str, torch.Tensor]:
        """Args:
            feature_map: M, (B, C, h, w).

        Returns:
            ``y_a`` logits (B, K); ``gated_maps`` G (B, K, h, w); ``attention`` A (B, K, h, w);
            ``score_maps`` S (B, K, h, w).
        """
        score_maps = self.score(feature_map)
        attention = spatial_softmax(self.attention(feature_map))
        gated_maps = score_maps * attention
        return {
            "y_a": gated_maps.sum(dim=(2, 3)),
            "gated_maps": gated_maps,
            "attention": attention,
            "score_maps": score_maps,
        }
