"""Convolution, batch normalisation and ReLU as one named block.

MONAI's ``monai.networks.blocks.Convolution`` names its activation ``A`` (inside an ``ADN`` block), so
``monai.visualize.GuidedBackpropGrad``, which swaps every sub-module whose name contains ``relu``, would
not find it. This block names its activation ``relu`` (an ``nn.ReLU`` module, not a functional call), so
guided backpropagation and forward hooks see every activation of the networks built from it.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvBatchNormReLU", "same_padding"]


def same_padding(kernel_size: tuple[int, int]) -> tuple[int, int]:
    """Padding that keeps the spatial size of a stride-1 convolution with an odd kernel.

    Args:
        kernel_size: (kh, kw), both odd.

    Returns:
        (kh // 2, kw // 2).
    """
    return kernel_size[0] // 2, kernel_size[1] // 2


class ConvBatchNormReLU(nn.Module):
    """``Conv2d`` (no bias) -> ``BatchNorm2d`` -> ``nn.ReLU``.

    Maps (B, in_channels, H, W) to (B, out_channels, H', W') with H' = (H + 2 * ph - kh) // stride + 1.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: (kh, kw) or one int for a square kernel.
        stride: convolution stride.
        padding: (ph, pw) or one int.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 1,
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, in_channels, H, W). Returns: (B, out_channels, H', W'), non-negative."""
        return self.relu(self.norm(self.conv(x)))
