"""Where the cells of a convolutional network's activation map sit on its input.

A map cell's value is computed from a receptive field centred at ``first_centre + stride * i`` input pixels
(continuous coordinates, pixel centres at ``i + 0.5``). Resizing a map evenly over the input, as MONAI's
``Resize`` and ``F.interpolate`` do, puts cell ``i`` of ``h`` at ``(i + 0.5) H / h`` instead, which for a stack
without "same" padding (AlexNet's 11 x 11 stride-4 first convolution and unpadded pooling) is off by up to a
cell at the far edge: at 256 px, 14 cells, the last centre is 225.5 but an even resize puts it at 246.9. MONAI
has no receptive-field geometry, hence this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["MapGeometry", "cell_centres", "map_geometry", "resample_to_input"]


@dataclass(frozen=True)
class MapGeometry:
    """Cell ``i`` of a map (along either axis) has its receptive field centred at ``first_centre + stride * i``
    input pixels (continuous coordinates: the first pixel spans [0, 1)).

    Attributes:
        first_centre: the centre of cell 0's receptive field, in input pixels.
        stride: the distance between neighbouring cells' centres (the network's global stride), in input pixels.
    """

    first_centre: float
    stride: float

    def __post_init__(self) -> None:
        if not self.stride > 0:
            raise ValueError(f"MapGeometry: stride must be positive, got {self.stride!r}")


def map_geometry(layers: Sequence[tuple[int, int, int]]) -> MapGeometry:
    """The geometry of the map after a stack of square convolution or pooling layers.

    The usual receptive-field recurrence: each layer of kernel ``k``, stride ``s`` and padding ``p`` moves the
    first centre by ``((k - 1) / 2 - p)`` times the stride so far and multiplies the stride by ``s``.

    Args:
        layers: ``(kernel, stride, padding)`` of every layer that changes the geometry, input first.

    Returns:
        the :class:`MapGeometry` of the last layer's output.

    Raises:
        ValueError: on a kernel or stride below 1 or a negative padding.
    """
    first_centre, stride = 0.5, 1.0
    for kernel, layer_stride, padding in layers:
        if kernel < 1 or layer_stride < 1 or padding < 0:
            raise ValueError(
                f"map_geometry: every layer needs kernel >= 1, stride >= 1, padding >= 0, got "
                f"{(kernel, layer_stride, padding)}"
            )
        first_centre += ((kernel - 1) / 2 - padding) * stride
        stride *= layer_stride
    return MapGeometry(first_centre=first_centre, stride=stride)


def cell_centres(geometry: MapGeometry, cells: int, input_length: int) -> torch.Tensor:
    """(cells,) float64: each cell's centre along one axis, in input pixels, clamped into ``[0.5,
    input_length - 0.5]`` (the centre of the nearest input pixel when a receptive field is centred off the
    input, as in padded stacks)."""
    centres = geometry.first_centre + geometry.stride * torch.arange(cells, dtype=torch.float64)
    return centres.clamp(0.5, input_length - 0.5)


def resample_to_input(maps: torch.Tensor, input_size: tuple[int, int], geometry: MapGeometry) -> torch.Tensor:
    """Maps on the input's pixel grid, bilinear between the cells' centres and constant beyond the outer ones.

    Args:
        maps: (B, K, h, w) float maps.
        input_size: (H, W) of the network input.
        geometry: where the cells sit on the input.

    Returns:
        (B, K, H, W): the value at input pixel ``(y, x)`` interpolated at its centre, ``(y + 0.5 -
        first_centre) / stride`` cells along the rows (likewise along the columns).
    """
    batch, _, height, width = maps.shape
    axes = []
    for cells, length in ((height, input_size[0]), (width, input_size[1])):
        position = (torch.arange(length, dtype=torch.float64) + 0.5 - geometry.first_centre) / geometry.stride
        axes.append(2 * position / (cells - 1) - 1 if cells > 1 else torch.zeros(length, dtype=torch.float64))
    rows, cols = torch.meshgrid(axes[0], axes[1], indexing="ij")
    grid = torch.stack((cols, rows), dim=-1).to(maps.dtype).to(maps.device)
    return F.grid_sample(
        maps, grid.expand(batch, -1, -1, -1), mode="bilinear", padding_mode="border", align_corners=True
    )
