"""An example third-party plugin: how a package outside monai-weakloc adds components.

Install it with ``pip install -e examples/weakloc_example_plugin``; ``weakloc plugins list`` then shows
``weakloc_example`` with the three components registered below, and a bundle config builds them with
``{"_target_": "monai_weakloc.registry.create", "kind": "network", "name": "example_cam_cnn", ...}``.
"""

from __future__ import annotations

import torch
from monai.metrics import CumulativeIterationMetric
from torch import nn
from torch.utils.data import Sampler

from monai_weakloc.registry import Registry


class ExampleCamCnn(nn.Module):
    """Two convolutions and a 1x1-conv class map, averaged over space.

    Args:
        in_channels: image channels.
        num_classes: number of classes K.
        width: channels of the hidden convolutions.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 2, width: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU()
        )
        self.class_map = nn.Conv2d(width, num_classes, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Map (B, C, H, W) images to (B, K) logits."""
        return self.class_map(self.body(image)).mean(dim=(2, 3))


class ExampleMeanAbsoluteError(CumulativeIterationMetric):
    """Mean absolute error over every value seen, accumulated across iterations."""

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y_pred.float() - y.float()).abs().flatten(1)

    def aggregate(self) -> torch.Tensor:
        """The mean absolute error of everything accumulated so far."""
        return self.get_buffer().mean()


class ExampleEverySecondSampler(Sampler[int]):
    """Yields the indices 0, 2, 4, ... of a dataset of ``length`` samples."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __iter__(self):
        return iter(range(0, self.length, 2))

    def __len__(self) -> int:
        return (self.length + 1) // 2


def register(registry: Registry) -> None:
    """Register the example's network, metric and sampler."""
    registry.register("network", "example_cam_cnn", ExampleCamCnn)
    registry.register("metric", "example_mean_absolute_error", ExampleMeanAbsoluteError)
    registry.register("sampler", "example_every_second", ExampleEverySecondSampler)
