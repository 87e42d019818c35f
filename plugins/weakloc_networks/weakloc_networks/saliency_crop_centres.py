"""Crop centres of the saliency-crop method (Grzeszczuk): the saliency maximum inside the border rule, or a random
position for images with nothing to find.

The saliency map is guided backpropagation of the unhealthy class, averaged over the colour channels
(:func:`~monai_weakloc.localize.saliency.guided_backprop_saliency`, batched); the border rule (the paper's Formula 1)
leaves a fraction ``kappa`` of the width and height out at each edge
(:func:`~monai_weakloc.localize.border.border_margins`); the arg-max of what is left is the crop centre. The map
covers the downsampled network input; :func:`full_resolution_centre` scales the centre to the full-resolution image
the crop is taken from (:func:`~monai_weakloc.localize.crop.crop_around`, shifted to stay inside, never padded).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from monai_weakloc.localize.border import border_margins
from monai_weakloc.localize.saliency import guided_backprop_saliency

__all__ = ["SaliencyCentres", "full_resolution_centre", "random_centre", "saliency_centres"]


class SaliencyCentres(NamedTuple):
    """Saliency maps of a batch and their maxima inside the border rule.

    Attributes:
        maps: (B, h, w) saliency maps over the network input.
        centres: (B, 2) ``x, y`` of each map's maximum inside the border, in map pixels (a pixel's centre at
            ``i + 0.5``).
        scores: (B,) the map's value there.
    """

    maps: torch.Tensor
    centres: torch.Tensor
    scores: torch.Tensor


def saliency_centres(
    network: nn.Module, images: torch.Tensor, target_class: int, kappa: float, absolute: bool = False
) -> SaliencyCentres:
    """Guided-backpropagation saliency of ``target_class`` and its maximum inside the border rule.

    Args:
        network: a classifier returning (B, K) logits for inputs of the images' size (the adaptive-pooling form of
            :class:`~weakloc_networks.saliency_crop.SaliencyCropNetwork` for any size); run in eval mode.
        images: (B, C, h, w) network inputs.
        target_class: the class whose logit is backpropagated (the unhealthy class).
        kappa: fraction of h and of w left out at each edge, in ``[0, 0.5)``.
        absolute: average the absolute input gradient over the channels instead of the signed one (the paper: the
            signed average, "how much a pixel increases the probability" of the class).

    Returns:
        the maps, the centres in map pixels and the scores.

    Raises:
        ValueError: for a ``kappa`` outside ``[0, 0.5)`` or a bad batch or class.
    """
    maps = guided_backprop_saliency(network, images, target_class, absolute)
    height, width = maps.shape[-2:]
    margin_rows, margin_cols = border_margins((height, width), kappa)
    inside = torch.zeros_like(maps, dtype=torch.bool)
    inside[:, margin_rows : height - margin_rows, margin_cols : width - margin_cols] = True
    ranked = maps.masked_fill(~inside, float("-inf")).flatten(1)
    flat = ranked.argmax(dim=1)
    rows, cols = flat // width, flat % width
    centres = torch.stack([cols, rows], dim=1).to(maps.dtype) + 0.5
    scores = maps[torch.arange(maps.shape[0], device=maps.device), rows, cols]
    return SaliencyCentres(maps.detach(), centres.detach(), scores.detach())


def full_resolution_centre(
    centre: Sequence[float], map_size: Sequence[int], image_size: Sequence[int]
) -> tuple[float, float]:
    """A centre in pixels of a map that covers the whole image, in pixels of the full-resolution image.

    Args:
        centre: ``(x, y)`` in map pixels.
        map_size: (h, w) of the map.
        image_size: (H, W) of the full-resolution image.

    Returns:
        ``(x * W / w, y * H / h)``.
    """
    return float(centre[0]) * image_size[1] / map_size[1], float(centre[1]) * image_size[0] / map_size[0]


def random_centre(image_id: str, image_size: Sequence[int], crop_size: int, seed: int) -> tuple[float, float]:
    """The centre of a ``crop_size`` crop placed uniformly at random inside the image (the crops of healthy images).

    The draw depends only on the seed and the image id (a resumed or repeated run crops the same place).

    Args:
        image_id: the image's id.
        image_size: (H, W) of the full-resolution image, each at least ``crop_size``.
        crop_size: side of the square crop.
        seed: the run's seed.

    Returns:
        ``(x, y)`` in pixels of the image, the centre of a crop that lies inside it.

    Raises:
        ValueError: when the image is smaller than the crop (naming the image).
    """
    height, width = int(image_size[0]), int(image_size[1])
    if height < crop_size or width < crop_size:
        raise ValueError(f"image {image_id!r} of (H, W) = ({height}, {width}) is smaller than the {crop_size} px crop")
    generator = np.random.default_rng([seed, zlib.crc32(image_id.encode())])
    left = int(generator.integers(0, width - crop_size + 1))
    top = int(generator.integers(0, height - crop_size + 1))
    return left + crop_size / 2, top + crop_size / 2
