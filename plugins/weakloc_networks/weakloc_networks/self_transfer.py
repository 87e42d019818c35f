"""Self-transfer learning network (STL, Hwang and Kim, MICCAI 2016): shared convolutions, a fully connected
classifier and a 1x1-convolution localizer trained together.

MONAI has no such network, hence this module, built from MONAI's ``Convolution`` blocks. The shared layers are
the AlexNet stack (Krizhevsky et al. 2012) the paper starts from, plus the sixth convolution it adds for
500 x 500 inputs. The paper gives that layer's shape only through two figures: 15 x 15 activation maps at
500 x 500 and a global stride of 32. AlexNet's two pooling layers and the 11 x 11 stride-4 convolution give 16,
so the sixth convolution here is a 3 x 3 convolution of stride 2 (padding 1) after the fifth; at 500 px the
feature maps go 123 -> 61 -> 61 -> 30 -> 30 -> 30 -> 30 -> 15 (AlexNet's last pooling layer is not used).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import Convolution
from monai.networks.layers.factories import Pool
from torch import nn

from monai_weakloc.localize.map_geometry import MapGeometry, map_geometry

__all__ = ["POOLINGS", "SelfTransferNetwork"]

POOLINGS: tuple[str, ...] = ("max", "avg")
"""The localizer's global pooling of its activation maps: max (Oquab et al.) or average (Zhou et al.)."""

ACTIVATION = "relu"
POOL_KERNEL, POOL_STRIDE = 3, 2
"""AlexNet's overlapping max pooling, after the first and the second convolution."""


class SelfTransferNetwork(nn.Module):
    """Shared AlexNet-style convolutions feeding a fully connected classifier and a 1x1-convolution localizer.

    Layout (the paper's numbers, ``channels=(96, 256, 384, 384, 256, 256)``):

    1. shared layers ``shared``: 11 x 11 convolution of stride 4 (no padding) to ``channels[0]``, 3 x 3 max pooling
       of stride 2, 5 x 5 convolution (padding 2) to ``channels[1]``, max pooling again, then one 3 x 3 convolution
       (padding 1) per further entry of ``channels``; with ``sixth_conv`` the last of those has stride 2 (the
       paper's sixth convolution). Every convolution is a MONAI ``Convolution`` block (convolution, optional
       ``norm``, ReLU). Output C, (B, channels[-1], h, w); h = w = 15 at 500 x 500;
    2. classifier ``classifier``: adaptive average pooling of C to ``classifier_grid`` x ``classifier_grid``
       cells, flattened (``classifier_grid=1`` is global average pooling), then one fully connected layer with
       ReLU and dropout per entry of ``fc_channels`` (AlexNet's 4096, 4096), then a linear layer to
       ``num_classes`` logits;
    3. localizer: a 1x1 convolution ``localizer_conv`` of C to ``num_classes`` activation maps, then a global
       ``pooling`` (max or average) of each map: the localizer's logits.

    Args:
        spatial_dims: 2 (the only value: the paper's network is 2D; the argument keeps the networks' shared
            signature).
        in_channels: input channels (1 for X-rays and mammograms).
        num_classes: K, the classes (single-label) or labels (multi-label).
        channels: widths of the shared convolutions, at least three (11 x 11, 5 x 5, then 3 x 3 ones).
        sixth_conv: whether the last 3 x 3 convolution has stride 2 (the paper's sixth convolution, for
            500 x 500 inputs); needs at least four ``channels``.
        fc_channels: widths of the classifier's hidden fully connected layers (may be empty).
        classifier_grid: the side of the pooled grid the classifier flattens (6 is AlexNet's).
        dropout: dropout probability after every hidden fully connected layer, in [0, 1).
        pooling: the localizer's global pooling, one of :data:`POOLINGS`.
        norm: a MONAI normalization (``"batch"``, ``("group", {"num_groups": 8})``) after every shared
            convolution; ``None`` (the paper's) for none.

    Attributes:
        cam_target_layer: name of the module whose output is :meth:`features` (for ``monai.visualize``).

    Raises:
        TypeError: when ``channels`` or ``fc_channels`` is not a sequence.
        ValueError: on a bad ``spatial_dims``, width, count, dropout or pooling.
    """

    cam_target_layer: str = "shared"

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        num_classes: int = 2,
        channels: Sequence[int] = (96, 256, 384, 384, 256, 256),
        sixth_conv: bool = True,
        fc_channels: Sequence[int] = (4096, 4096),
        classifier_grid: int = 6,
        dropout: float = 0.5,
        pooling: str = "avg",
        norm: str | tuple | None = None,
    ) -> None:
        super().__init__()
        if spatial_dims != 2:
            raise ValueError(f"SelfTransferNetwork: spatial_dims must be 2, got {spatial_dims!r}")
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes),
                            ("classifier_grid", classifier_grid)):
            _check_positive_int(value, name)
        channels = _positive_ints(channels, "channels")
        fc_channels = _positive_ints(fc_channels, "fc_channels")
        minimum = 4 if sixth_conv else 3
        if len(channels) < minimum:
            raise ValueError(
                f"SelfTransferNetwork: channels needs at least {minimum} widths with sixth_conv={sixth_conv}, "
                f"got {list(channels)}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"SelfTransferNetwork: dropout must lie in [0, 1), got {dropout!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"SelfTransferNetwork: pooling must be one of {POOLINGS}, got {pooling!r}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.pooling = pooling
        self.geometry = _layer_geometry(len(channels), sixth_conv)
        self.min_input_size = _min_input_size(self.geometry)

        self.shared = _shared_layers(in_channels, channels, sixth_conv, norm)
        self.classifier = _classifier(channels[-1], classifier_grid, fc_channels, dropout, num_classes)
        self.localizer_conv = nn.Conv2d(channels[-1], num_classes, kernel_size=1)

    def map_size(self, input_size: int) -> int:
        """The side of the activation maps for an input side ``input_size`` (15 for 500 with the paper's stack).

        Raises:
            ValueError: when the input is smaller than :attr:`min_input_size`.
        """
        if input_size < self.min_input_size:
            raise ValueError(
                f"SelfTransferNetwork: input_size must be at least {self.min_input_size}, got {input_size!r}"
            )
        size = input_size
        for kernel, stride, padding in self.geometry:
            size = (size + 2 * padding - kernel) // stride + 1
        return size

    def map_geometry(self) -> MapGeometry:
        """Where the activation maps' cells sit on the input: cell ``i``'s receptive field is centred at
        ``first_centre + stride * i`` input pixels (17.5 + 16 i without the sixth convolution, 17.5 + 32 i with
        it), for any input size."""
        return map_geometry(self.geometry)

    @torch.jit.unused
    def _check_type(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SelfTransferNetwork: x must be a torch tensor, got {type(x).__name__}")

    def _check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is (B, in_channels, H, W) with H, W >= :attr:`min_input_size`."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"SelfTransferNetwork: x must be (B, {self.in_channels}, H, W), got {x.shape}"
            )
        if x.shape[2] < self.min_input_size or x.shape[3] < self.min_input_size:
            raise ValueError(
                f"SelfTransferNetwork: input size {x.shape[2:]} must be at least {self.min_input_size} on each side"
            )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The shared convolutional features C that both the classifier and the localizer read.

        Args:
            x: (B, in_channels, H, W), H and W at least :attr:`min_input_size`.

        Returns:
            (B, channels[-1], h, w), h = :meth:`map_size` (H).

        Raises:
            TypeError: when ``x`` is not a tensor.
            ValueError: on a bad shape or a too small input.
        """
        if not torch.jit.is_scripting():
            self._check_type(x)
        self._check_input(x)
        return self.shared(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Args:
            x: (B, in_channels, H, W), H and W at least :attr:`min_input_size`.

        Returns:
            ``{"classifier": (B, K) logits of the fully connected classifier, "localizer": (B, K) logits of the
            localizer (the globally pooled maps), "maps": (B, K, h, w) the localizer's activation maps}``.
        """
        shared = self.features(x)
        maps = self.localizer_conv(shared)
        if self.pooling == "max":
            localizer = maps.amax(dim=(2, 3))
        else:
            localizer = maps.mean(dim=(2, 3))
        return {"classifier": self.classifier(shared), "localizer": localizer, "maps": maps}


def _convolution(in_channels: int, out_channels: int, kernel: int, stride: int, padding: int,
                 norm: str | tuple | None) -> Convolution:
    """Convolution -> optional norm -> ReLU as a MONAI block."""
    return Convolution(
        2, in_channels, out_channels, strides=stride, kernel_size=kernel, padding=padding, act=ACTIVATION, norm=norm
    )


def _shared_layers(in_channels: int, channels: tuple[int, ...], sixth_conv: bool,
                   norm: str | tuple | None) -> nn.Sequential:
    """The shared convolutional stack (see :class:`SelfTransferNetwork`)."""
    layers: list[nn.Module] = [
        _convolution(in_channels, channels[0], 11, 4, 0, norm),
        Pool[Pool.MAX, 2](kernel_size=POOL_KERNEL, stride=POOL_STRIDE),
        _convolution(channels[0], channels[1], 5, 1, 2, norm),
        Pool[Pool.MAX, 2](kernel_size=POOL_KERNEL, stride=POOL_STRIDE),
    ]
    for index in range(2, len(channels)):
        stride = 2 if sixth_conv and index == len(channels) - 1 else 1
        layers.append(_convolution(channels[index - 1], channels[index], 3, stride, 1, norm))
    return nn.Sequential(*layers)


def _layer_geometry(num_convolutions: int, sixth_conv: bool) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of every size-changing layer of the shared stack, in order."""
    geometry = [(11, 4, 0), (POOL_KERNEL, POOL_STRIDE, 0), (5, 1, 2), (POOL_KERNEL, POOL_STRIDE, 0)]
    geometry += [(3, 1, 1)] * (num_convolutions - 2)
    if sixth_conv:
        geometry[-1] = (3, 2, 1)
    return geometry


def _min_input_size(geometry: list[tuple[int, int, int]]) -> int:
    """The smallest input side that leaves at least one cell after every layer of ``geometry``."""
    size = 1
    for kernel, stride, padding in reversed(geometry):
        size = max((size - 1) * stride + kernel - 2 * padding, 1)
    return size


def _classifier(in_channels: int, grid: int, fc_channels: tuple[int, ...], dropout: float,
                num_classes: int) -> nn.Sequential:
    """Adaptive average pooling to grid x grid, flatten, hidden FC layers (ReLU, dropout), FC to the logits."""
    layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(grid), nn.Flatten()]
    width = in_channels * grid * grid
    for hidden in fc_channels:
        layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        width = hidden
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def _check_positive_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"SelfTransferNetwork: {name} must be a positive integer, got {value!r}")


def _positive_ints(values: Sequence[int], name: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"SelfTransferNetwork: {name} must be a sequence of positive integers, got {values!r}")
    for value in values:
        _check_positive_int(value, f"every entry of {name}")
    return tuple(values)
