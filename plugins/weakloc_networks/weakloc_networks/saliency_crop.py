"""The residual network of the saliency-crop method (Grzeszczuk, "Approach to classifying data with highly
localized unmarked features") and its two derived forms.

The paper's network (its Figure 2) is an input segment, five residual segments in sequence and a fully connected
classifier. A residual segment adds two branches: three convolutions, each followed by batch normalisation, and a
skip that is the identity, or max pooling where the segment reduces resolution. MONAI has no such network, hence
this module, built from MONAI's ``Convolution`` blocks.

What the paper's text leaves open, and what is done here:

- the figure's window sizes and widths are not in the text: the input segment is ResNet's (He et al. 2016)
  7 x 7 stride-2 convolution and 3 x 3 stride-2 max pooling; every convolution of a segment is 3 x 3 (the first one
  of stride 2 in a reducing segment); the default widths and reductions follow ResNet's (64, then doubling at
  every reduction up to 512; the first segment keeps the input segment's resolution);
- the skip where a segment changes the channel count: the paper does not say; here a 1 x 1 convolution with batch
  normalisation follows the identity or the max pooling, in those segments only;
- the classifier: the paper replaces "the fully-connected layer with a 1 x 1 convolution" for its sliding-window
  network, which is exact only when the fully connected layer reads one cell of features. So, as in ResNet's
  original (fixed 7 x 7 average pooling) head, the classifier pools the whole final feature grid at the training
  input size (``g x g`` cells, ``g`` following from ``input_size``) with a fixed window, then applies dropout and
  one fully connected layer. The adaptive pooling form pools any grid to that one cell (one logit vector for a
  full-size image, the paper's final pipeline); the fully convolutional form slides the same ``g x g`` window with
  stride 1 and applies the fully connected weights as a 1 x 1 convolution (a logit map over overlapping windows,
  the paper's sliding-window model). Both equal the network on an input of the training size.

Every layer maps a side ``n`` to ``ceil(n / 2)`` or ``n`` (zero padding, max pooling in ceil mode), so the
convolution branch and the skip always agree in size. All networks return logits; a softmax over dim 1 gives the
class probabilities.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from monai.networks.blocks import Convolution
from torch import nn

__all__ = [
    "POOLINGS",
    "ResidualSegment",
    "SaliencyCropAdaptivePooling",
    "SaliencyCropBackbone",
    "SaliencyCropFullyConvolutional",
    "SaliencyCropNetwork",
]

POOLINGS: tuple[str, ...] = ("avg", "max")
"""The classifier's pooling of the final feature grid: average (ResNet's) or max (spatial pyramid pooling's)."""

NUM_SEGMENTS = 5
INPUT_SEGMENT_REDUCTIONS = 2
"""The input segment's stride-2 convolution and stride-2 max pooling."""


def _convolution(in_channels: int, out_channels: int, kernel_size: int, stride: int, relu: bool) -> Convolution:
    """Convolution (zero "same" padding, no bias) -> batch normalisation -> ReLU (when ``relu``) as a MONAI block."""
    return Convolution(
        2,
        in_channels,
        out_channels,
        strides=stride,
        kernel_size=kernel_size,
        act="relu" if relu else None,
        norm="batch",
        bias=False,
    )


class ResidualSegment(nn.Module):
    """One residual segment: ``relu(convolutions(x) + skip(x))``.

    The convolution branch is three 3 x 3 convolutions, each followed by batch normalisation (ReLU after the first
    two); the first has stride 2 when ``reduce``. The skip is the identity, or 2 x 2 max pooling of stride 2 when
    ``reduce``, followed by a 1 x 1 convolution with batch normalisation when the channel count changes.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        reduce: whether the segment halves the resolution (``ceil(n / 2)``).
    """

    def __init__(self, in_channels: int, out_channels: int, reduce: bool) -> None:
        super().__init__()
        self.convolutions = nn.Sequential(
            _convolution(in_channels, out_channels, 3, 2 if reduce else 1, relu=True),
            _convolution(out_channels, out_channels, 3, 1, relu=True),
            _convolution(out_channels, out_channels, 3, 1, relu=False),
        )
        skip: list[nn.Module] = []
        if reduce:
            skip.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True))
        if in_channels != out_channels:
            skip.append(_convolution(in_channels, out_channels, 1, 1, relu=False))
        self.skip = nn.Sequential(*skip)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, H, W).

        Returns:
            (B, out_channels, H', W'), H' = ceil(H / 2) when reducing, else H.
        """
        return self.relu(self.convolutions(x) + self.skip(x))


class SaliencyCropBackbone(nn.Module):
    """The input segment and the five residual segments: the features every form of the network reads.

    Args:
        in_channels: input channels.
        channels: six widths: the input segment's, then one per residual segment.
        reduce: five flags, whether each residual segment halves the resolution.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...], reduce: tuple[bool, ...]) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.reductions = INPUT_SEGMENT_REDUCTIONS + sum(reduce)
        self.input_segment = nn.Sequential(
            _convolution(in_channels, channels[0], 7, 2, relu=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        self.segments = nn.Sequential(
            *(ResidualSegment(channels[index], channels[index + 1], reduce[index]) for index in range(NUM_SEGMENTS))
        )

    def feature_size(self, input_size: int) -> int:
        """The side of the final feature grid for an input side ``input_size``: ``input_size`` halved (rounding
        up) once per reduction."""
        size = input_size
        for _ in range(self.reductions):
            size = (size + 1) // 2
        return size

    @torch.jit.unused
    def _check_type(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SaliencyCropNetwork: x must be a torch tensor, got {type(x).__name__}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, H, W).

        Returns:
            (B, channels[-1], h, w), h = :meth:`feature_size` (H).

        Raises:
            TypeError: when ``x`` is not a tensor.
            ValueError: when ``x`` is not (B, in_channels, H, W).
        """
        if not torch.jit.is_scripting():
            self._check_type(x)
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"SaliencyCropNetwork: x must be (B, {self.in_channels}, H, W), got {x.shape}")
        return self.segments(self.input_segment(x))


def _window_pooling(pooling: str, grid: int) -> nn.Module:
    """A ``grid x grid`` pooling window of stride 1 (one cell on a ``grid x grid`` feature map)."""
    if pooling == "max":
        return nn.MaxPool2d(kernel_size=grid, stride=1)
    return nn.AvgPool2d(kernel_size=grid, stride=1)


class SaliencyCropNetwork(nn.Module):
    """The saliency-crop method's classifier: input segment, five residual segments, pooled fully connected layer.

    Layout (defaults, ``input_size=1024``): input segment (7 x 7 stride-2 convolution to ``channels[0]``, batch
    normalisation, ReLU, 3 x 3 stride-2 max pooling): 1024 -> 256; five :class:`ResidualSegment` s to
    ``channels[1:]``, those flagged in ``reduce`` halving the resolution: 256 -> 256 -> 128 -> 64 -> 32 -> 16 =
    ``g``; a fixed ``g x g`` ``pooling`` window over that grid (one cell), dropout, and a fully connected layer to
    ``num_classes`` logits. The derived forms: :meth:`adaptive_pooling_form` and :meth:`fully_convolutional_form`.

    Args:
        spatial_dims: 2 (the only value: the paper's network is 2D; the argument keeps the networks' shared
            signature).
        in_channels: input channels (3 for colour fundus images).
        num_classes: K, the classes (2 in the paper: healthy and unhealthy).
        input_size: the training input side (1024 for the paper's first network, 512 for its crop networks). The
            network reads inputs whose final feature grid is as large as this size's.
        channels: six widths: the input segment's, then one per residual segment.
        reduce: five flags, whether each residual segment halves the resolution.
        pooling: the classifier's pooling, one of :data:`POOLINGS`.
        dropout: dropout probability before the fully connected layer, in [0, 1) (the paper names none).

    Attributes:
        cam_target_layer: name of the module whose output is :meth:`features` (for ``monai.visualize``).
        classifier_grid: ``g``, the side of the final feature grid at ``input_size``.

    Raises:
        TypeError: when ``channels`` or ``reduce`` is not a sequence.
        ValueError: on a bad ``spatial_dims``, count, width, flag, size, pooling or dropout.
    """

    cam_target_layer: str = "backbone.segments"

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        num_classes: int = 2,
        input_size: int = 1024,
        channels: Sequence[int] = (64, 64, 128, 256, 512, 512),
        reduce: Sequence[bool] = (False, True, True, True, True),
        pooling: str = "avg",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if spatial_dims != 2:
            raise ValueError(f"SaliencyCropNetwork: spatial_dims must be 2, got {spatial_dims!r}")
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("input_size", input_size)):
            _check_positive_int(value, name)
        channels = _checked_sequence(channels, "channels", NUM_SEGMENTS + 1)
        for value in channels:
            _check_positive_int(value, "every entry of channels")
        reduce = _checked_sequence(reduce, "reduce", NUM_SEGMENTS)
        if not all(isinstance(flag, bool) for flag in reduce):
            raise ValueError(f"SaliencyCropNetwork: every entry of reduce must be a bool, got {list(reduce)}")
        if pooling not in POOLINGS:
            raise ValueError(f"SaliencyCropNetwork: pooling must be one of {POOLINGS}, got {pooling!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"SaliencyCropNetwork: dropout must lie in [0, 1), got {dropout!r}")
        self.num_classes = num_classes
        self.input_size = input_size
        self.pooling = pooling
        self.backbone = SaliencyCropBackbone(in_channels, channels, reduce)
        self.classifier_grid = self.backbone.feature_size(input_size)
        self.pool = _window_pooling(pooling, self.classifier_grid)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels[-1], num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The output of the fifth residual segment.

        Args:
            x: (B, in_channels, H, W).

        Returns:
            (B, channels[-1], h, w), h = ceil(H / 2^r), r = 2 + the number of reducing segments.
        """
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, H, W) whose feature grid is :attr:`classifier_grid` on each side (H = W =
                ``input_size`` does).

        Returns:
            (B, num_classes) logits.

        Raises:
            ValueError: on a bad shape, or an input of another feature grid (use a derived form for those).
        """
        features = self.features(x)
        grid = self.classifier_grid
        if features.shape[2] != grid or features.shape[3] != grid:
            raise ValueError(
                f"SaliencyCropNetwork: input size {x.shape[2:]} gives a feature grid {features.shape[2:]}, the "
                f"classifier reads {grid} x {grid} (input_size={self.input_size}); use adaptive_pooling_form() or "
                "fully_convolutional_form() for other sizes"
            )
        return self.fc(self.dropout(self.pool(features).flatten(1)))

    def adaptive_pooling_form(self) -> SaliencyCropAdaptivePooling:
        """A copy of this network with adaptive pooling before the classifier: one logit vector for any input size.

        Returns:
            a :class:`SaliencyCropAdaptivePooling` holding copies of the current weights.
        """
        return SaliencyCropAdaptivePooling(self)

    def fully_convolutional_form(self) -> SaliencyCropFullyConvolutional:
        """A copy of this network whose fully connected layer is a 1 x 1 convolution: a logit map for any input
        at least the training size.

        Returns:
            a :class:`SaliencyCropFullyConvolutional` holding copies of the current weights.
        """
        return SaliencyCropFullyConvolutional(self)


class SaliencyCropAdaptivePooling(nn.Module):
    """A trained :class:`SaliencyCropNetwork` with adaptive spatial pooling (to one cell, the classifier's training
    grid) before its fully connected layer, so a full-size image gives one logit vector (the paper's final pipeline,
    step 2). Equal to the network on an input of the training size.

    Holds deep copies of the network's layers (train/eval mode included): further training of the network does not
    change it.

    Args:
        network: the trained network.

    Attributes:
        cam_target_layer: name of the module whose output is :meth:`features` (for ``monai.visualize``).
    """

    cam_target_layer: str = "backbone.segments"

    def __init__(self, network: SaliencyCropNetwork) -> None:
        super().__init__()
        self.backbone = copy.deepcopy(network.backbone)
        self.pool = nn.AdaptiveMaxPool2d(1) if network.pooling == "max" else nn.AdaptiveAvgPool2d(1)
        self.dropout = copy.deepcopy(network.dropout)
        self.fc = copy.deepcopy(network.fc)
        self.train(network.training)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, H, W).

        Returns:
            (B, channels[-1], h, w), the network's features.
        """
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, H, W), any size.

        Returns:
            (B, num_classes) logits.
        """
        return self.fc(self.dropout(self.pool(self.features(x)).flatten(1)))


class SaliencyCropFullyConvolutional(nn.Module):
    """A trained :class:`SaliencyCropNetwork` whose fully connected layer is copied into a 1 x 1 convolution after a
    ``g x g`` pooling window of stride 1, so an input larger than the training size gives a map of logits, one per
    overlapping window (the paper's sliding-window model). Equal to the network on an input of the training size.

    Holds deep copies of the network's layers (train/eval mode included): further training of the network does not
    change it.

    Args:
        network: the trained network.

    Attributes:
        cam_target_layer: name of the module whose output is :meth:`features` (for ``monai.visualize``).
        classifier_grid: ``g``, the window's side in feature cells.
        min_input_size: the smallest input side that gives one window (the network's ``input_size`` or less).
    """

    cam_target_layer: str = "backbone.segments"

    def __init__(self, network: SaliencyCropNetwork) -> None:
        super().__init__()
        self.backbone = copy.deepcopy(network.backbone)
        self.classifier_grid = network.classifier_grid
        self.min_input_size = (network.classifier_grid - 1) * 2**network.backbone.reductions + 1
        self.pool = _window_pooling(network.pooling, network.classifier_grid)
        self.dropout = copy.deepcopy(network.dropout)
        self.classifier_conv = nn.Conv2d(network.fc.in_features, network.fc.out_features, kernel_size=1)
        with torch.no_grad():
            self.classifier_conv.weight.copy_(network.fc.weight[:, :, None, None])
            self.classifier_conv.bias.copy_(network.fc.bias)
        self.train(network.training)

    def map_size(self, input_size: int) -> int:
        """The side of the logit map for an input side ``input_size`` (1 at the training size).

        Raises:
            ValueError: when the input is smaller than :attr:`min_input_size`.
        """
        if input_size < self.min_input_size:
            raise ValueError(
                f"SaliencyCropFullyConvolutional: input_size must be at least {self.min_input_size}, got {input_size!r}"
            )
        return self.backbone.feature_size(input_size) - self.classifier_grid + 1

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, H, W).

        Returns:
            (B, channels[-1], h, w), the network's features.
        """
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, H, W), H and W at least :attr:`min_input_size`.

        Returns:
            (B, num_classes, h', w') logits, h' = :meth:`map_size` (H).

        Raises:
            ValueError: on a bad shape or a too small input.
        """
        if x.dim() == 4 and (x.shape[2] < self.min_input_size or x.shape[3] < self.min_input_size):
            raise ValueError(
                f"SaliencyCropFullyConvolutional: input size {x.shape[2:]} must be at least {self.min_input_size} "
                "on each side"
            )
        return self.classifier_conv(self.dropout(self.pool(self.features(x))))


def _check_positive_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"SaliencyCropNetwork: {name} must be a positive integer, got {value!r}")


def _checked_sequence(values: Sequence, name: str, length: int) -> tuple:
    """``values`` as a tuple, checked to be a sequence of ``length`` entries."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"SaliencyCropNetwork: {name} must be a sequence of {length} entries, got {values!r}")
    if len(values) != length:
        raise ValueError(f"SaliencyCropNetwork: {name} needs {length} entries, got {list(values)}")
    return tuple(values)
