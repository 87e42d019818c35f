"""Patch refinement network (PRN) of the microaneurysm segmentation method (Sarhan et al., MICCAI 2019).

A ResNet-50 classifier of small patches (is the centre pixel a microaneurysm?) whose globally average-pooled
last features are also the embedding that the triplet loss shapes. It is MONAI's ``ResNet``, configured; this
module only adds the two outputs (logits and embedding) and the feature map.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.nets import ResNet
from torch import nn

__all__ = ["PatchRefinementLogits", "PatchRefinementNetwork"]


class PatchRefinementNetwork(nn.Module):
    """ResNet-50 (bottleneck blocks, layers (3, 4, 6, 3)) with one downsampling step fewer, logits and embedding.

    He et al.'s ResNet-50 downsamples 32 times: a stride-2 7x7 first convolution, a stride-2 max pool and three
    stride-2 stages. The paper omits one step because its patches are far smaller than ImageNet images. Here the
    omitted step is the first convolution's stride (``conv1_t_stride=1``, the max pool is kept), so the total
    stride is 16: the 7x7 first convolution then sees every pixel of a microaneurysm only a few pixels wide
    instead of every other one, and the max pool still halves the map before the costly bottleneck stages.
    (``conv1_t_stride=1`` happens to be MONAI's default; it is set explicitly because it is the method's choice.)

    Input size: any ``H, W >= 1`` runs in eval mode; the last feature map is ``ceil(H / 16)`` wide (a 25 x 25
    patch gives 2 x 2). In training mode batch norm needs more than one value per channel, so ``B * h * w > 1``
    at the last stage (with ``B >= 2`` any patch size trains).

    Never built with pretrained weights (MONAI's ``pretrained=True`` downloads them); load a local state dict when
    one is named.

    Args:
        spatial_dims: 2 (patches) or 3 (volume patches).
        in_channels: input channels.
        num_classes: classes of the logits (2: healthy, microaneurysm).
        layers: bottleneck blocks per stage; (3, 4, 6, 3) is ResNet-50.
        block_inplanes: widths of the four stages before the bottleneck expansion (x4); the embedding has
            ``D = 4 * block_inplanes[-1]`` dimensions (2048 by default).

    Attributes:
        cam_target_layer: name of the module whose output is :meth:`features` (for ``monai.visualize``).

    Raises:
        ValueError: when ``layers`` or ``block_inplanes`` do not have four positive entries.
    """

    cam_target_layer: str = "resnet.layer4"

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        num_classes: int = 2,
        layers: Sequence[int] = (3, 4, 6, 3),
        block_inplanes: Sequence[int] = (64, 128, 256, 512),
    ) -> None:
        super().__init__()
        for name, values in (("layers", layers), ("block_inplanes", block_inplanes)):
            if len(values) != 4 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
                raise ValueError(f"PatchRefinementNetwork: {name} must be four positive integers, got {values!r}")
        self.resnet = ResNet(
            block="bottleneck",
            layers=list(layers),
            block_inplanes=list(block_inplanes),
            spatial_dims=spatial_dims,
            n_input_channels=in_channels,
            conv1_t_stride=1,
            no_max_pool=False,
            num_classes=num_classes,
        )

    @property
    def embedding_size(self) -> int:
        """D, the length of the embedding."""
        return self.resnet.fc.in_features

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolution features (the output of the ResNet's ``layer4``).

        Args:
            x: (B, in_channels, H, W).

        Returns:
            (B, D, ceil(H / 16), ceil(W / 16)), non-negative.
        """
        resnet = self.resnet
        x = resnet.maxpool(resnet.act(resnet.bn1(resnet.conv1(x))))
        return resnet.layer4(resnet.layer3(resnet.layer2(resnet.layer1(x))))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Args:
            x: (B, in_channels, H, W) patches.

        Returns:
            ``{"logits": (B, num_classes), "embedding": (B, D)}``; the embedding is the ResNet's global average
            pool of :meth:`features`, flattened, the input of its ``fc``.
        """
        embedding = self.resnet.avgpool(self.features(x)).flatten(1)
        return {"logits": self.resnet.fc(embedding), "embedding": embedding}


class PatchRefinementLogits(nn.Module):
    """The logits of a :class:`PatchRefinementNetwork`, as a network of its own that shares its weights.

    For code that needs a tensor-valued network, e.g. ``weakloc_samplers``' ``SelectiveRescoreHandler``, which
    scores the healthy pool with ``loss_function(network(x), y)`` and reads ``outputs.shape``. Train
    ``network``; hand this view to the handler (with ``PatchCrossEntropy(reduction="none")``).

    Args:
        network: the PRN whose logits to return.
    """

    def __init__(self, network: PatchRefinementNetwork) -> None:
        super().__init__()
        if not isinstance(network, PatchRefinementNetwork):
            raise TypeError(
                f"PatchRefinementLogits: network must be a PatchRefinementNetwork, got {type(network).__name__}"
            )
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, in_channels, H, W). Returns: logits (B, num_classes)."""
        return self.network(x)["logits"]
