"""Inception-ResNet backbone (Szegedy et al., AAAI 2017, "Inception-v4, Inception-ResNet and the Impact of
Residual Connections on Learning"), the backbone of Zoom-in-Net's M-Net and C-Net.

MONAI ships no Inception network, and the project may not depend on torchvision or timm, hence this
implementation. The layout follows Inception-ResNet-v2: a stem to stride 8, stage A (35 x 35 blocks at a
299 px input), reduction A to stride 16, stage B (17 x 17 blocks), reduction B to stride 32, stage C
(8 x 8 blocks), then a 1 x 1 projection to ``feature_channels``. With the default ``padding="valid"``
(unpadded stem and reduction convolutions, as in the original), a 492 px image gives a 14 x 14 map, the
feature map M of Zoom-in-Net (1024 x 14 x 14 at the default width); it needs inputs of at least 75 px.
``padding="same"`` pads them instead, so inputs of any size work (a 64 px image gives 2 x 2); tiny test
networks use it.

Every channel count of the original is multiplied by ``width_multiplier`` (rounded, at least 1) and the
number of residual blocks per stage is ``blocks_per_stage``, so tests can build tiny versions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from weakloc_networks.conv_batchnorm_relu import ConvBatchNormReLU, same_padding

__all__ = [
    "BranchConcat",
    "InceptionResNet",
    "InceptionResidualBlock",
    "PADDING_MODES",
    "build_reduction_a",
    "build_reduction_b",
    "build_stem",
    "scaled_channels",
]

PADDING_MODES: tuple[str, ...] = ("valid", "same")

#: Branch layouts of the residual blocks: per branch, (channels at width 1, kernel) of each convolution.
BLOCK_A_BRANCHES: tuple[tuple[tuple[int, tuple[int, int]], ...], ...] = (
    ((32, (1, 1)),),
    ((32, (1, 1)), (32, (3, 3))),
    ((32, (1, 1)), (48, (3, 3)), (64, (3, 3))),
)
BLOCK_B_BRANCHES: tuple[tuple[tuple[int, tuple[int, int]], ...], ...] = (
    ((192, (1, 1)),),
    ((128, (1, 1)), (160, (1, 7)), (192, (7, 1))),
)
BLOCK_C_BRANCHES: tuple[tuple[tuple[int, tuple[int, int]], ...], ...] = (
    ((192, (1, 1)),),
    ((192, (1, 1)), (224, (1, 3)), (256, (3, 1))),
)
#: Residual scaling of stages A, B and C (Inception-ResNet-v2).
RESIDUAL_SCALES: tuple[float, float, float] = (0.17, 0.10, 0.20)


def scaled_channels(channels: int, width_multiplier: float) -> int:
    """Channel count of the original network times ``width_multiplier``, rounded, at least 1."""
    return max(1, int(round(channels * width_multiplier)))


def _reduction_padding(padding: str) -> int:
    """Padding of the 3 x 3 stride-2 (and unpadded 3 x 3) layers: 0 for "valid", 1 for "same"."""
    return 0 if padding == "valid" else 1


class BranchConcat(nn.Module):
    """Runs parallel branches on the same input and concatenates their outputs along channels.

    Args:
        branches: modules mapping (B, C, H, W) to (B, C_i, H', W') with the same H', W'.
        out_channels: sum of the C_i.
    """

    def __init__(self, branches: Sequence[nn.Module], out_channels: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, C, H, W). Returns: (B, out_channels, H', W')."""
        outputs: list[torch.Tensor] = []
        for branch in self.branches:
            outputs.append(branch(x))
        return torch.cat(outputs, dim=1)


class InceptionResidualBlock(nn.Module):
    """Inception-ResNet residual block: ``relu(x + scale * project(concat(branches(x))))``.

    Every branch convolution is a same-padded :class:`ConvBatchNormReLU`; the projection is a 1 x 1
    convolution with bias and no activation, back to ``channels``.

    Args:
        channels: input and output channels.
        branches: per branch, the (out_channels, (kh, kw)) of each convolution, in order.
        scale: residual scaling factor.
    """

    def __init__(
        self, channels: int, branches: Sequence[Sequence[tuple[int, tuple[int, int]]]], scale: float
    ) -> None:
        super().__init__()
        branch_modules = []
        for layers in branches:
            convs = []
            in_channels = channels
            for out_channels, kernel_size in layers:
                padding = same_padding(kernel_size)
                convs.append(ConvBatchNormReLU(in_channels, out_channels, kernel_size, padding=padding))
                in_channels = out_channels
            branch_modules.append(nn.Sequential(*convs))
        concat_channels = sum(layers[-1][0] for layers in branches)
        self.branches = BranchConcat(branch_modules, concat_channels)
        self.projection = nn.Conv2d(concat_channels, channels, kernel_size=1, bias=True)
        self.scale = scale
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, channels, H, W). Returns: (B, channels, H, W), non-negative."""
        return self.relu(x + self.scale * self.projection(self.branches(x)))


def _scaled_branches(
    branches: tuple[tuple[tuple[int, tuple[int, int]], ...], ...], width_multiplier: float
) -> list[list[tuple[int, tuple[int, int]]]]:
    return [[(scaled_channels(c, width_multiplier), k) for c, k in layers] for layers in branches]


def build_stem(in_channels: int, width_multiplier: float, padding: str) -> nn.Sequential:
    """Stem of Inception-ResNet-v2: stride 8, 320 channels at width 1.

    Maps (B, in_channels, H, W) to (B, stem[-1].out_channels, h, w); at ``padding="valid"`` a 299 px image
    gives 35 x 35 and a 492 px image 59 x 59.
    """
    pad = _reduction_padding(padding)

    def width(channels: int) -> int:
        return scaled_channels(channels, width_multiplier)

    mixed = BranchConcat(
        [
            ConvBatchNormReLU(width(192), width(96), 1),
            nn.Sequential(
                ConvBatchNormReLU(width(192), width(48), 1), ConvBatchNormReLU(width(48), width(64), 5, padding=2)
            ),
            nn.Sequential(
                ConvBatchNormReLU(width(192), width(64), 1),
                ConvBatchNormReLU(width(64), width(96), 3, padding=1),
                ConvBatchNormReLU(width(96), width(96), 3, padding=1),
            ),
            nn.Sequential(
                nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                ConvBatchNormReLU(width(192), width(64), 1),
            ),
        ],
        out_channels=width(96) + width(64) + width(96) + width(64),
    )
    return nn.Sequential(
        ConvBatchNormReLU(in_channels, width(32), 3, stride=2, padding=pad),
        ConvBatchNormReLU(width(32), width(32), 3, padding=pad),
        ConvBatchNormReLU(width(32), width(64), 3, padding=1),
        nn.MaxPool2d(3, stride=2, padding=pad),
        ConvBatchNormReLU(width(64), width(80), 1),
        ConvBatchNormReLU(width(80), width(192), 3, padding=pad),
        nn.MaxPool2d(3, stride=2, padding=pad),
        mixed,
    )


def build_reduction_a(in_channels: int, width_multiplier: float, padding: str) -> BranchConcat:
    """Reduction A: stride 2, ``in_channels + 2 * 384`` channels at width 1 (320 -> 1088)."""
    pad = _reduction_padding(padding)
    c256, c384 = scaled_channels(256, width_multiplier), scaled_channels(384, width_multiplier)
    return BranchConcat(
        [
            ConvBatchNormReLU(in_channels, c384, 3, stride=2, padding=pad),
            nn.Sequential(
                ConvBatchNormReLU(in_channels, c256, 1),
                ConvBatchNormReLU(c256, c256, 3, padding=1),
                ConvBatchNormReLU(c256, c384, 3, stride=2, padding=pad),
            ),
            nn.MaxPool2d(3, stride=2, padding=pad),
        ],
        out_channels=in_channels + 2 * c384,
    )


def build_reduction_b(in_channels: int, width_multiplier: float, padding: str) -> BranchConcat:
    """Reduction B: stride 2, ``in_channels + 384 + 288 + 320`` channels at width 1 (1088 -> 2080)."""
    pad = _reduction_padding(padding)
    c256, c288, c320, c384 = (scaled_channels(c, width_multiplier) for c in (256, 288, 320, 384))
    return BranchConcat(
        [
            nn.Sequential(ConvBatchNormReLU(in_channels, c256, 1), ConvBatchNormReLU(c256, c384, 3, 2, pad)),
            nn.Sequential(ConvBatchNormReLU(in_channels, c256, 1), ConvBatchNormReLU(c256, c288, 3, 2, pad)),
            nn.Sequential(
                ConvBatchNormReLU(in_channels, c256, 1),
                ConvBatchNormReLU(c256, c288, 3, padding=1),
                ConvBatchNormReLU(c288, c320, 3, 2, pad),
            ),
            nn.MaxPool2d(3, stride=2, padding=pad),
        ],
        out_channels=in_channels + c384 + c288 + c320,
    )


class InceptionResNet(nn.Module):
    """Inception-ResNet-v2 layout with width and depth knobs; stride 32.

    Args:
        spatial_dims: must be 2 (the factorised 1 x k / k x 1 convolutions of stages B and C are 2D).
        in_channels: image channels.
        num_classes: ``None`` for a backbone whose ``forward`` returns the feature map; otherwise ``forward``
            returns class logits from a global-average-pooled linear head.
        width_multiplier: multiplies every channel count of the original network.
        blocks_per_stage: residual blocks in stages A, B and C (Szegedy et al.: 5, 10, 5).
        feature_channels: channels of the output feature map; default ``1024 * width_multiplier``.
        padding: "valid" (unpadded stem and reduction layers, the original) or "same".
        dropout_prob: dropout before the linear head.

    Attributes:
        out_channels: channels of :meth:`features`.
        cam_target_layer: name of the module whose output is the feature map (for ``monai.visualize.GradCAM``).
    """

    cam_target_layer: str = "projection"

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        num_classes: int | None = None,
        width_multiplier: float = 1.0,
        blocks_per_stage: Sequence[int] = (5, 10, 5),
        feature_channels: int | None = None,
        padding: str = "valid",
        dropout_prob: float = 0.0,
    ) -> None:
        super().__init__()
        if spatial_dims != 2:
            raise ValueError(f"InceptionResNet: spatial_dims must be 2, got {spatial_dims}")
        if padding not in PADDING_MODES:
            raise ValueError(f"InceptionResNet: padding must be one of {PADDING_MODES}, got {padding!r}")
        if width_multiplier <= 0:
            raise ValueError(f"InceptionResNet: width_multiplier must be positive, got {width_multiplier}")
        blocks_per_stage = tuple(blocks_per_stage)
        if len(blocks_per_stage) != 3 or any(int(n) != n or n < 0 for n in blocks_per_stage):
            raise ValueError(
                f"InceptionResNet: blocks_per_stage must be three non-negative integers (stages A, B, C), "
                f"got {blocks_per_stage}"
            )
        if num_classes is not None and num_classes < 1:
            raise ValueError(f"InceptionResNet: num_classes must be positive or None, got {num_classes}")
        self.stem = build_stem(in_channels, width_multiplier, padding)
        channels_a = self.stem[-1].out_channels
        scale_a, scale_b, scale_c = RESIDUAL_SCALES
        self.stage_a = self._stage(channels_a, BLOCK_A_BRANCHES, scale_a, blocks_per_stage[0], width_multiplier)
        self.reduction_a = build_reduction_a(channels_a, width_multiplier, padding)
        channels_b = self.reduction_a.out_channels
        self.stage_b = self._stage(channels_b, BLOCK_B_BRANCHES, scale_b, blocks_per_stage[1], width_multiplier)
        self.reduction_b = build_reduction_b(channels_b, width_multiplier, padding)
        channels_c = self.reduction_b.out_channels
        self.stage_c = self._stage(channels_c, BLOCK_C_BRANCHES, scale_c, blocks_per_stage[2], width_multiplier)
        self.out_channels = feature_channels or scaled_channels(1024, width_multiplier)
        self.projection = ConvBatchNormReLU(channels_c, self.out_channels, 1)
        self.head: nn.Module | None = None
        if num_classes is not None:
            self.head = nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(1),
                nn.Dropout(dropout_prob),
                nn.Linear(self.out_channels, num_classes),
            )

    @staticmethod
    def _stage(
        channels: int,
        branches: tuple[tuple[tuple[int, tuple[int, int]], ...], ...],
        scale: float,
        num_blocks: int,
        width_multiplier: float,
    ) -> nn.Sequential:
        scaled = _scaled_branches(branches, width_multiplier)
        return nn.Sequential(*(InceptionResidualBlock(channels, scaled, scale) for _ in range(int(num_blocks))))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map at stride 32.

        Args:
            x: (B, in_channels, H, W).

        Returns:
            (B, out_channels, h, w), non-negative; h = 14 for H = 492 with ``padding="valid"``,
            h = ceil(H / 32) with ``padding="same"``.
        """
        x = self.stem(x)
        x = self.reduction_a(self.stage_a(x))
        x = self.reduction_b(self.stage_b(x))
        return self.projection(self.stage_c(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, in_channels, H, W). Returns: logits (B, num_classes), or the feature map if no head."""
        feature_map = self.features(x)
        if self.head is None:
            return feature_map
        return self.head(feature_map)
