"""Full-resolution residual network (FRRN, Pohlen et al., CVPR 2017), the hypothesis generation network of the
microaneurysm segmentation method (Sarhan et al., MICCAI 2019).

MONAI has no FRRN, hence this module. It is our own implementation of the published structure (the
reference PyTorch layout is ``meetps/pytorch-semseg``'s ``ptsemseg/models/frrn.py``), built from MONAI's
``Convolution`` and ``ResidualUnit`` blocks so that it works for ``spatial_dims`` 2 and 3.

Two streams run side by side: a *residual stream* at the input resolution (32 channels in FRRN-A) that carries
precise boundaries, and a *pooling stream* (48 channels, doubled per stage) that goes down and up again for
context. Every full-resolution residual unit (FRRU) reads both and writes both.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution, ResidualUnit
from monai.networks.layers.factories import Conv, Pool
from torch import nn

__all__ = ["FRRN", "FullResolutionResidualUnit"]

ACTIVATION = "relu"
NORM = "batch"


def _conv_batchnorm_relu(spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int) -> Convolution:
    """Same-padded convolution (no bias) -> batch norm -> ReLU."""
    return Convolution(
        spatial_dims, in_channels, out_channels, kernel_size=kernel_size, act=ACTIVATION, norm=NORM, bias=False
    )


def _residual_unit(spatial_dims: int, in_channels: int, out_channels: int) -> ResidualUnit:
    """FRRN's RU as MONAI's ``ResidualUnit``: two 3x3 conv-BN-ReLU plus the input (1x1-projected if widths differ).

    Pohlen's RU ends its second convolution with batch norm only; MONAI's unit applies ReLU there too, before
    the addition. The difference is minor and MONAI's block is used as it is.
    """
    return ResidualUnit(spatial_dims, in_channels, out_channels, subunits=2, act=ACTIVATION, norm=NORM, bias=False)


def _upsample(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """Nearest-neighbour upsampling to ``size`` (the unpooling of both streams).

    ``size`` is a list (``torch.Size`` in eager mode) so that ``torch.jit.script`` compiles the network.
    """
    return F.interpolate(x, size=size, mode="nearest")


class FullResolutionResidualUnit(nn.Module):
    """One FRRU: join the pooling stream at scale ``s`` with the residual stream, update both.

    ``joint = concat(pooling, maxpool_s(residual))``, ``pooling' = convs(joint)`` (two 3x3 conv-BN-ReLU),
    ``residual' = residual + upsample_s(conv1x1(pooling'))``.

    Args:
        spatial_dims: 2 or 3.
        pooling_in_channels: channels of the incoming pooling stream.
        pooling_out_channels: channels of the outgoing pooling stream.
        residual_channels: channels of the residual stream.
        scale: the pooling stream's downsampling factor relative to the residual stream (a power of two).
    """

    def __init__(
        self,
        spatial_dims: int,
        pooling_in_channels: int,
        pooling_out_channels: int,
        residual_channels: int,
        scale: int,
    ) -> None:
        super().__init__()
        self.scale = scale
        self.pool_residual = Pool[Pool.MAX, spatial_dims](kernel_size=scale, stride=scale)
        self.convs = nn.Sequential(
            _conv_batchnorm_relu(spatial_dims, pooling_in_channels + residual_channels, pooling_out_channels, 3),
            _conv_batchnorm_relu(spatial_dims, pooling_out_channels, pooling_out_channels, 3),
        )
        self.to_residual = Conv[Conv.CONV, spatial_dims](pooling_out_channels, residual_channels, kernel_size=1)

    def forward(self, pooling: torch.Tensor, residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Args:
            pooling: (B, pooling_in_channels, *S / scale).
            residual: (B, residual_channels, *S).

        Returns:
            the pooling stream (B, pooling_out_channels, *S / scale) and the residual stream
            (B, residual_channels, *S).
        """
        pooling = self.convs(torch.cat([pooling, self.pool_residual(residual)], dim=1))
        residual = residual + _upsample(self.to_residual(pooling), residual.shape[2:])
        return pooling, residual


class FRRN(nn.Module):
    """Full-resolution residual network, type A by default: per-pixel logits at the input resolution.

    Layout (FRRN-A numbers, ``C = base_channels = 48``, ``R = residual_channels = 32``):

    1. stem: 5x5 conv-BN-ReLU to C, then ``residual_units`` (3) residual units at C;
    2. the residual stream splits off with a 1x1 conv to R;
    3. encoder: stage ``i`` (scale ``2 ** (i + 1)``) max-pools the pooling stream by 2 and runs
       ``encoder_units[i]`` FRRUs; its width is ``C * 2 ** min(i + 1, 3)`` (96, 192, 384, 384);
    4. decoder: each stage upsamples the pooling stream by 2 and runs ``decoder_units[j]`` FRRUs; at scale
       ``2 ** k`` its width is ``C * 2 ** min(k, 2)`` (192 at 1/8, 192 at 1/4, 96 at 1/2), as in FRRN-A's table;
    5. head: upsample the pooling stream to full resolution, concatenate the residual stream, ``residual_units``
       residual units at C (the first one projects the concatenation to C), then a 1x1 conv to
       ``out_channels`` logits.

    FRRN-A (``encoder_units=(3, 4, 2, 2)``, ``decoder_units=(2, 2, 2)``) has 17 FRRUs and 6 residual units. The
    unpooling is nearest-neighbour throughout (the reference PyTorch code unpools the pooling stream bilinearly;
    nearest keeps one rule for both streams and any ``spatial_dims``).

    Args:
        spatial_dims: 2 (images) or 3 (volumes).
        in_channels: input channels.
        out_channels: output channels (classes of the per-pixel softmax).
        residual_channels: width R of the residual stream.
        base_channels: width C of the pooling stream at full resolution.
        encoder_units: FRRUs per encoder stage; one stage per halving of the resolution.
        decoder_units: FRRUs per decoder stage, one fewer stage than the encoder.
        residual_units: residual units of the stem and of the head (3 in FRRN-A).

    Attributes:
        cam_target_layer: name of the module whose output is :meth:`features` (for ``monai.visualize``).

    Raises:
        ValueError: on a bad ``spatial_dims``, a non-positive width or unit count, or ``decoder_units`` not one
            stage shorter than ``encoder_units``.
    """

    cam_target_layer: str = "head_units"

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        out_channels: int = 2,
        residual_channels: int = 32,
        base_channels: int = 48,
        encoder_units: Sequence[int] = (3, 4, 2, 2),
        decoder_units: Sequence[int] = (2, 2, 2),
        residual_units: int = 3,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"FRRN: spatial_dims must be 2 or 3, got {spatial_dims!r}")
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("residual_channels", residual_channels),
            ("base_channels", base_channels),
            ("residual_units", residual_units),
        ):
            _check_positive_int(value, name)
        encoder_units = _positive_counts(encoder_units, "encoder_units")
        decoder_units = _positive_counts(decoder_units, "decoder_units", allow_empty=True)
        if len(decoder_units) != len(encoder_units) - 1:
            raise ValueError(
                f"FRRN: decoder_units needs one stage fewer than encoder_units ({len(encoder_units) - 1}), "
                f"got {len(decoder_units)}: {list(decoder_units)}"
            )
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.downsampling_factor = 2 ** len(encoder_units)

        self.stem = _conv_batchnorm_relu(spatial_dims, in_channels, base_channels, 5)
        self.stem_units = nn.Sequential(
            *(_residual_unit(spatial_dims, base_channels, base_channels) for _ in range(residual_units))
        )
        self.split = Conv[Conv.CONV, spatial_dims](base_channels, residual_channels, kernel_size=1)
        self.pool = Pool[Pool.MAX, spatial_dims](kernel_size=2, stride=2)

        channels = base_channels
        self.encoder = nn.ModuleList()
        for stage, units in enumerate(encoder_units):
            scale_exponent = stage + 1
            stage_channels = base_channels * 2 ** min(scale_exponent, 3)
            self.encoder.append(
                _frru_stage(spatial_dims, channels, stage_channels, residual_channels, 2**scale_exponent, units)
            )
            channels = stage_channels
        self.decoder = nn.ModuleList()
        for stage, units in enumerate(decoder_units):
            scale_exponent = len(encoder_units) - 1 - stage
            stage_channels = base_channels * 2 ** min(scale_exponent, 2)
            self.decoder.append(
                _frru_stage(spatial_dims, channels, stage_channels, residual_channels, 2**scale_exponent, units)
            )
            channels = stage_channels

        self.head_units = nn.Sequential(
            _residual_unit(spatial_dims, channels + residual_channels, base_channels),
            *(_residual_unit(spatial_dims, base_channels, base_channels) for _ in range(residual_units - 1)),
        )
        self.classifier = Conv[Conv.CONV, spatial_dims](base_channels, out_channels, kernel_size=1)

    @torch.jit.unused
    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"FRRN: x must be a torch tensor, got {type(x).__name__}")
        if x.ndim != self.spatial_dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"FRRN: x must have shape (B, {self.in_channels}, {', '.join('S' * self.spatial_dims)}), "
                f"got {tuple(x.shape)}"
            )
        size = tuple(x.shape[2:])
        if any(side % self.downsampling_factor for side in size):
            raise ValueError(
                f"FRRN: input size {size} must be divisible by {self.downsampling_factor} "
                f"(2 ** len(encoder_units)) in every spatial dimension"
            )

    def _check_scripted_input(self, x: torch.Tensor) -> None:
        """:meth:`_check_input` in a form ``torch.jit.script`` compiles (the shapes printed as lists)."""
        if x.dim() != self.spatial_dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"FRRN: x must have {self.spatial_dims + 2} dimensions and {self.in_channels} channels, got {x.shape}"
            )
        for side in x.shape[2:]:
            if side % self.downsampling_factor != 0:
                raise ValueError(
                    f"FRRN: input size {x.shape[2:]} must be divisible by {self.downsampling_factor} "
                    f"(2 ** len(encoder_units)) in every spatial dimension"
                )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map before the classifier, at the input resolution.

        Args:
            x: (B, in_channels, H, W) (or (B, in_channels, D, H, W)), every side divisible by
                ``2 ** len(encoder_units)``.

        Returns:
            (B, base_channels, H, W).

        Raises:
            TypeError: when ``x`` is not a tensor.
            ValueError: on a bad shape or a size that the encoder cannot halve often enough.
        """
        if torch.jit.is_scripting():
            self._check_scripted_input(x)
        else:
            self._check_input(x)
        pooling = self.stem_units(self.stem(x))
        residual = self.split(pooling)
        for stage in self.encoder:
            pooling = self.pool(pooling)
            for unit in stage:
                pooling, residual = unit(pooling, residual)
        for stage in self.decoder:
            pooling = _upsample(pooling, [side * 2 for side in pooling.shape[2:]])
            for unit in stage:
                pooling, residual = unit(pooling, residual)
        joint = torch.cat([_upsample(pooling, residual.shape[2:]), residual], dim=1)
        return self.head_units(joint)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, H, W), H and W divisible by ``2 ** len(encoder_units)``.

        Returns:
            logits (B, out_channels, H, W).
        """
        return self.classifier(self.features(x))


def _frru_stage(
    spatial_dims: int, in_channels: int, out_channels: int, residual_channels: int, scale: int, units: int
) -> nn.ModuleList:
    """``units`` FRRUs at one scale; the first one changes the pooling stream's width."""
    return nn.ModuleList(
        FullResolutionResidualUnit(
            spatial_dims, in_channels if unit == 0 else out_channels, out_channels, residual_channels, scale
        )
        for unit in range(units)
    )


def _check_positive_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"FRRN: {name} must be a positive integer, got {value!r}")


def _positive_counts(values: Sequence[int], name: str, allow_empty: bool = False) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"FRRN: {name} must be a sequence of positive integers, got {values!r}")
    counts = tuple(values)
    if not counts and not allow_empty:
        raise ValueError(f"FRRN: {name} needs at least one stage")
    for count in counts:
        _check_positive_int(count, f"every entry of {name}")
    return counts
