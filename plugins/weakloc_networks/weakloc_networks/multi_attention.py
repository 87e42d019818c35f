"""Multi-attention network (Ma et al., ICASSP 2019): an SE-ResNet-101 (feature attention), global features
concatenated to every position (space attention) and a 1x1-convolution classifier whose per-label maps are
averaged into the logits.

MONAI has the parts but not the whole: ``SEResNet101`` fixes the stage widths at 64, 128, 256 and 512 planes,
so a narrow version that trains on a CPU cannot be had from it, and it ends in a pooled linear layer rather
than per-position maps. The SE feature extractor is therefore built here from MONAI's own
``SEResNetBottleneck`` and ``Convolution`` blocks, laid out and named as in MONAI's ``SENet`` (``layer0`` to
``layer4``): with the default ``layers`` and ``width`` its state dict is ``SEResNet101``'s without
``last_linear``, so ImageNet weights converted for MONAI load into it. The plain extractor (the paper's
baseline, BSL) is MONAI's ``ResNet``, which has a width knob (``block_inplanes``), without its pooling and
fully connected layer (keys as in MONAI's and torchvision's ``resnet101``, ``fc`` aside).
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import torch
from monai.networks.blocks import Convolution
from monai.networks.blocks.squeeze_and_excitation import SEResNetBottleneck
from monai.networks.layers.factories import Act, Conv, Norm, Pool
from monai.networks.nets import ResNet
from torch import nn

from monai_weakloc.localize.map_geometry import MapGeometry, map_geometry

__all__ = ["POOLINGS", "MultiAttentionNetwork"]

logger = logging.getLogger(__name__)

POOLINGS: tuple[str, ...] = ("after", "before")
"""Where the global average pooling sits: after the 1x1 classifier (on its maps) or before it (on the features)."""

SE_REDUCTION = 16
"""The squeeze-and-excitation reduction ratio of SE-ResNet (Hu et al.)."""

EXPANSION = 4
"""Output channels of a bottleneck per plane."""

PLAIN_STAGES: tuple[str, ...] = ("conv1", "bn1", "act", "maxpool", "layer1", "layer2", "layer3", "layer4")
"""The modules of MONAI's ``ResNet`` that make the plain feature extractor, in order."""


class MultiAttentionNetwork(nn.Module):
    """SE-ResNet features, space attention and a per-position 1x1-convolution classifier.

    Layout:

    1. feature extractor ``backbone``: a 7 x 7 stride-2 convolution and a 3 x 3 stride-2 max pooling, then four
       stages of ``layers`` bottleneck blocks with ``width``, 2, 4 and 8 ``width`` planes (output ``4 x`` the
       planes), the second and third starting with stride 2, the fourth with ``last_stride``. With
       ``feature_attention`` every bottleneck carries a squeeze-and-excitation layer (reduction 16; SE-ResNet, the
       paper's section 3.1), else none (ResNet, the paper's BSL). Output F, (B, C, h, w) with C = 32 ``width``
       (2048 by default), h = H / 32 (7 at 224; H / 16 with ``last_stride=1``);
    2. space attention (``space_attention``, the paper's section 3.2): the global average of F over positions,
       (B, C), broadcast back to h x w and concatenated after F: (B, 2C, h, w). No convolution between the
       pooling and the broadcast, as the paper insists;
    3. classifier ``classifier``: a 1x1 convolution to one map per label, (B, K, h, w); with ``pooling="after"``
       (the paper's final model) the logits are the maps' spatial mean and the maps are its heatmaps; with
       ``"before"`` the logits are the classifier applied to the spatially averaged features, and the maps the
       same classifier applied at every position (a CAM). The classifier being affine, the mean of its outputs
       is its output on the mean: both give the same logits (and gradients); the paper's figure 4 compares them.

    Args:
        spatial_dims: 2 (the only value: the paper's network is 2D; the argument keeps the networks' shared
            signature).
        in_channels: input channels (3 for ImageNet weights).
        num_classes: K, the labels (14 for ChestX-ray14).
        layers: bottleneck blocks per stage, four entries ((3, 4, 23, 3) is ResNet-101).
        width: planes of the first stage (64 is ResNet-101's); at least 4 with ``feature_attention`` (the SE layer
            reduces ``4 width`` channels 16 times).
        feature_attention: squeeze-and-excitation in every bottleneck (SE-ResNet) or not (ResNet).
        space_attention: concatenate the globally pooled features to every position before the classifier.
        pooling: one of :data:`POOLINGS`.
        last_stride: the stride of the fourth stage, 2 (ResNet's) or 1: maps of twice the resolution, the
            paper's 7 x 7 cells of a 224 px input at half that input (8 x 8 at 128 px), for small-image settings.
            ImageNet weights load either way (a stride has no weights).
        pretrained_weights: path of a local file holding a state dict of the feature extractor (for instance
            MONAI's ``SEResNet101`` ImageNet weights, whose ``last_linear`` is then reported and ignored); never
            downloaded. ``None`` trains from scratch.

    Attributes:
        cam_target_layer: name of the module whose output is :meth:`features` (for ``monai.visualize``).

    Raises:
        TypeError: when ``layers`` is not a sequence, or the weights file holds no state dict.
        ValueError: on a bad ``spatial_dims``, count, width or pooling, or weights of other names or shapes.
        FileNotFoundError: when ``pretrained_weights`` names no file.
    """

    cam_target_layer: str = "backbone"

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        num_classes: int = 14,
        layers: Sequence[int] = (3, 4, 23, 3),
        width: int = 64,
        feature_attention: bool = True,
        space_attention: bool = True,
        pooling: str = "after",
        last_stride: int = 2,
        pretrained_weights: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        if spatial_dims != 2:
            raise ValueError(f"MultiAttentionNetwork: spatial_dims must be 2, got {spatial_dims!r}")
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("width", width)):
            _check_positive_int(value, name)
        if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
            raise TypeError(f"MultiAttentionNetwork: layers must be a sequence of four block counts, got {layers!r}")
        if len(layers) != 4:
            raise ValueError(f"MultiAttentionNetwork: layers must have four block counts, got {list(layers)}")
        for value in layers:
            _check_positive_int(value, "every entry of layers")
        if feature_attention and width * EXPANSION < SE_REDUCTION:
            raise ValueError(
                f"MultiAttentionNetwork: width must be at least {SE_REDUCTION // EXPANSION} with feature_attention "
                f"(the SE layer reduces {EXPANSION} x width channels {SE_REDUCTION} times), got {width!r}"
            )
        if pooling not in POOLINGS:
            raise ValueError(f"MultiAttentionNetwork: pooling must be one of {POOLINGS}, got {pooling!r}")
        if last_stride not in (1, 2):
            raise ValueError(f"MultiAttentionNetwork: last_stride must be 1 or 2, got {last_stride!r}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.feature_attention = bool(feature_attention)
        self.space_attention = bool(space_attention)
        self.pooling = pooling
        self.last_stride = last_stride
        builder = _se_resnet_features if self.feature_attention else _resnet_features
        self.backbone = builder(in_channels, tuple(layers), width, last_stride)
        self.feature_channels = 8 * width * EXPANSION
        classifier_channels = 2 * self.feature_channels if self.space_attention else self.feature_channels
        self.classifier = nn.Conv2d(classifier_channels, num_classes, kernel_size=1)
        if pretrained_weights is None:
            logger.info("MultiAttentionNetwork: no pretrained_weights given, the feature extractor trains from scratch")
        else:
            _load_feature_weights(self.backbone, pretrained_weights)

    def map_geometry(self) -> MapGeometry:
        """Where the maps' cells sit on the input: cell ``i``'s receptive field is centred at ``first_centre +
        32 i`` input pixels (16 i with ``last_stride=1``; 2.5 with SE-ResNet's unpadded stem pooling, 0.5 with
        ResNet's padded one)."""
        stem_pool = (3, 2, 0) if self.feature_attention else (3, 2, 1)
        stage_stride = (1, 2, 0) if self.feature_attention else (3, 2, 1)
        last_stage = (stage_stride[0], self.last_stride, stage_stride[2])
        return map_geometry([(7, 2, 3), stem_pool, stage_stride, stage_stride, last_stage])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature extractor's output F.

        Args:
            x: (B, in_channels, H, W).

        Returns:
            (B, C, h, w), C = :attr:`feature_channels`, h = H / 32 (H / 16 with ``last_stride=1``; rounded up).

        Raises:
            TypeError: when ``x`` is not a tensor.
            ValueError: on a bad shape.
        """
        if not torch.jit.is_scripting():
            self._check_type(x)
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"MultiAttentionNetwork: x must be (B, {self.in_channels}, H, W), got {x.shape}")
        return self.backbone(x)

    @torch.jit.unused
    def _check_type(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"MultiAttentionNetwork: x must be a torch tensor, got {type(x).__name__}")

    def attended(self, features: torch.Tensor) -> torch.Tensor:
        """The classifier's input: F with, under space attention, its global average at every position after it.

        Args:
            features: (B, C, h, w), the output of :meth:`features`.

        Returns:
            (B, 2C, h, w) with space attention (channels C to 2C constant over positions), else ``features``.
        """
        if not self.space_attention:
            return features
        pooled = features.mean(dim=(2, 3), keepdim=True)
        return torch.cat([features, pooled.expand_as(features)], dim=1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Args:
            x: (B, in_channels, H, W).

        Returns:
            ``{"logits": (B, K) label logits, "maps": (B, K, h, w) the classifier's map per label}``.
        """
        attended = self.attended(self.features(x))
        maps = self.classifier(attended)
        if self.pooling == "after":
            logits = maps.mean(dim=(2, 3))
        else:
            logits = self.classifier(attended.mean(dim=(2, 3), keepdim=True)).flatten(1)
        return {"logits": logits, "maps": maps}


def _se_resnet_features(in_channels: int, layers: tuple[int, ...], width: int, last_stride: int) -> nn.Sequential:
    """SE-ResNet's ``layer0`` (stem) to ``layer4`` from MONAI's blocks, named and initialised as in ``SENet``."""
    stem = nn.Sequential(
        OrderedDict(
            [
                ("conv1", Conv[Conv.CONV, 2](in_channels, width, kernel_size=7, stride=2, padding=3, bias=False)),
                ("bn1", Norm[Norm.BATCH, 2](width)),
                ("relu1", Act[Act.RELU](inplace=True)),
                ("pool", Pool[Pool.MAX, 2](kernel_size=3, stride=2, ceil_mode=True)),
            ]
        )
    )
    stages: list[tuple[str, nn.Module]] = [("layer0", stem)]
    inplanes = width
    for index, blocks in enumerate(layers):
        planes = width * 2**index
        stride = (1, 2, 2, last_stride)[index]
        downsample = None
        if stride != 1 or inplanes != planes * EXPANSION:
            downsample = Convolution(
                2, inplanes, planes * EXPANSION, strides=stride, kernel_size=1, act=None, norm=Norm.BATCH, bias=False
            )
        stage = [SEResNetBottleneck(2, inplanes, planes, 1, SE_REDUCTION, stride=stride, downsample=downsample)]
        inplanes = planes * EXPANSION
        stage += [SEResNetBottleneck(2, inplanes, planes, 1, SE_REDUCTION) for _ in range(1, blocks)]
        stages.append((f"layer{index + 1}", nn.Sequential(*stage)))
    features = nn.Sequential(OrderedDict(stages))
    for module in features.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)
        elif isinstance(module, nn.Linear):
            nn.init.constant_(module.bias, 0)
    return features


def _resnet_features(in_channels: int, layers: tuple[int, ...], width: int, last_stride: int) -> nn.Sequential:
    """MONAI ``ResNet``'s stem and four stages (ImageNet layout: 7 x 7 stride-2 stem, no bias in the shortcuts),
    without its pooling and fully connected layer; ``last_stride=1`` sets the stride of the fourth stage's first
    block (its 3 x 3 convolution and shortcut; MONAI's ``ResNet`` fixes it at 2) to 1."""
    resnet = ResNet(
        block="bottleneck",
        layers=list(layers),
        block_inplanes=[width, 2 * width, 4 * width, 8 * width],
        spatial_dims=2,
        n_input_channels=in_channels,
        conv1_t_size=7,
        conv1_t_stride=2,
        feed_forward=False,
        bias_downsample=False,
    )
    if last_stride == 1:
        first_block = resnet.layer4[0]
        first_block.conv2.stride = (1, 1)
        first_block.downsample[0].stride = (1, 1)
    return nn.Sequential(OrderedDict((name, getattr(resnet, name)) for name in PLAIN_STAGES))


def _load_feature_weights(backbone: nn.Module, path: str | os.PathLike) -> None:
    """Load the state dict in the local file ``path`` into ``backbone``, logging the keys missing from the file
    and the file's keys the extractor lacks (ignored).

    Raises:
        FileNotFoundError: when ``path`` is no file.
        TypeError: when the file holds no mapping of names to tensors.
        ValueError: when no name matches the extractor's, or a tensor's shape differs from the extractor's.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"MultiAttentionNetwork: pretrained_weights file {os.fspath(path)!r} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise TypeError(
            f"MultiAttentionNetwork: pretrained_weights file {os.fspath(path)!r} must hold a state dict (names to "
            f"tensors), got {type(state).__name__}"
        )
    own = backbone.state_dict()
    mismatched = [
        f"{key} {tuple(value.shape)} != {tuple(own[key].shape)}"
        for key, value in state.items()
        if key in own and value.shape != own[key].shape
    ]
    if mismatched:
        raise ValueError(
            f"MultiAttentionNetwork: pretrained_weights file {os.fspath(path)!r} has tensors of other shapes than "
            f"the feature extractor: {mismatched}"
        )
    if not any(key in own for key in state):
        raise ValueError(
            f"MultiAttentionNetwork: pretrained_weights file {os.fspath(path)!r} has no tensor named as the feature "
            f"extractor's (such as {next(iter(own))!r}), got {sorted(state)[:3]}"
        )
    result = backbone.load_state_dict(state, strict=False)
    logger.info(
        "MultiAttentionNetwork: loaded %d of the feature extractor's %d tensors from %s",
        len(own) - len(result.missing_keys),
        len(own),
        os.fspath(path),
    )
    if result.missing_keys:
        logger.warning("MultiAttentionNetwork: not in %s, left as initialised: %s", path, result.missing_keys)
    if result.unexpected_keys:
        logger.warning(
            "MultiAttentionNetwork: in %s but not in the feature extractor, ignored: %s", path, result.unexpected_keys
        )


def _check_positive_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"MultiAttentionNetwork: {name} must be a positive integer, got {value!r}")
