"""Clustering of lesion-like regions: features at the strongest attention responses, by affinity propagation.

For each image and attention channel the ``top_k`` highest locations are taken (a location picked by
several channels counts once), the feature vector there is read from the feature maps, and the vectors of
the whole batch are clustered with ``sklearn.cluster.AffinityPropagation``, which also chooses the number of
clusters. Nothing in MONAI does this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from sklearn.cluster import AffinityPropagation

from monai_weakloc.localize.crop import crop_box
from monai_weakloc.localize.region import validate_size

__all__ = ["ClusterMember", "cluster_attention_regions"]


class ClusterMember(NamedTuple):
    """One region of a cluster.

    Attributes:
        image_index: index of the image in the batch.
        y: row of the location on the feature grid (h, w).
        x: column of the location on the feature grid.
        box: ``(x0, y0, x1, y1)``, integer pixels of the image (see :func:`cluster_attention_regions`).
    """

    image_index: int
    y: int
    x: int
    box: tuple[int, int, int, int]


def cluster_attention_regions(
    features: torch.Tensor,
    attention: torch.Tensor,
    image_size: Sequence[int],
    top_k: int,
    region_size: int | Sequence[int] | None = None,
    random_state: int = 0,
    **affinity_options: Any,
) -> dict[int, list[ClusterMember]]:
    """Cluster the feature vectors found at the top-k responses of attention maps.

    Args:
        features: (B, C, h, w) feature maps.
        attention: (B, K, h, w) attention maps on the same grid.
        image_size: (H, W) of the images the grid covers, for the boxes.
        top_k: locations taken per image and attention channel (ties: first in row-major order).
        region_size: ``None`` boxes each grid cell's own area (``round(x * W / w)`` to
            ``round((x + 1) * W / w)``); a side or (h, w) in image pixels boxes that size around the cell's
            centre, shifted to lie inside the image.
        random_state: seed of ``AffinityPropagation``.
        affinity_options: further ``AffinityPropagation`` arguments (``damping``, ``preference``, ``max_iter``).

    Returns:
        Cluster id (0, 1, ...) -> members in the order taken (image, then channel, then response).

    Raises:
        ValueError: on mismatched shapes or a bad ``top_k``.
        RuntimeError: when affinity propagation does not converge (raise ``max_iter`` or ``damping``).
    """
    if features.ndim != 4 or attention.ndim != 4:
        raise ValueError(
            "features (B, C, h, w) and attention (B, K, h, w) must be 4-D, "
            f"got {tuple(features.shape)} and {tuple(attention.shape)}"
        )
    if features.shape[0] != attention.shape[0] or features.shape[2:] != attention.shape[2:]:
        raise ValueError(
            f"features {tuple(features.shape)} and attention {tuple(attention.shape)} "
            "must share batch size and grid (h, w)"
        )
    grid_h, grid_w = attention.shape[2:]
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= grid_h * grid_w:
        raise ValueError(f"top_k must be an int in [1, {grid_h * grid_w}] (the grid size), got {top_k!r}")
    height, width = validate_size(image_size, "image_size")
    locations = _top_locations(attention.detach().cpu(), top_k)
    if len(locations) < 2:
        raise ValueError(f"clustering needs at least 2 distinct locations, got {len(locations)}")
    vectors = np.stack([features[b, :, y, x].detach().cpu().double().numpy() for b, y, x in locations])
    propagation = AffinityPropagation(random_state=random_state, **affinity_options).fit(vectors)
    if len(propagation.cluster_centers_indices_) == 0:
        raise RuntimeError(
            f"affinity propagation did not converge on {len(locations)} vectors; raise max_iter or damping"
        )
    clusters: dict[int, list[ClusterMember]] = {}
    for (b, y, x), label in zip(locations, propagation.labels_):
        box = _cell_box(y, x, (grid_h, grid_w), (height, width), region_size)
        clusters.setdefault(int(label), []).append(ClusterMember(image_index=b, y=y, x=x, box=box))
    return dict(sorted(clusters.items()))


def _top_locations(attention: torch.Tensor, top_k: int) -> list[tuple[int, int, int]]:
    """Distinct (image, y, x) of the top-k responses of every attention channel."""
    grid_w = attention.shape[3]
    locations: dict[tuple[int, int, int], None] = {}
    for b in range(attention.shape[0]):
        for channel in attention[b]:
            flat = channel.flatten().double().numpy()
            order = np.argsort(-flat, kind="stable")[:top_k]
            for index in order:
                y, x = divmod(int(index), grid_w)
                locations[(b, y, x)] = None
    return list(locations)


def _cell_box(
    y: int,
    x: int,
    grid_size: tuple[int, int],
    image_size: tuple[int, int],
    region_size: int | Sequence[int] | None,
) -> tuple[int, int, int, int]:
    """Image box of grid cell (y, x): the cell's area, or ``region_size`` around the cell centre."""
    scale_y, scale_x = image_size[0] / grid_size[0], image_size[1] / grid_size[1]
    if region_size is None:
        return round(x * scale_x), round(y * scale_y), round((x + 1) * scale_x), round((y + 1) * scale_y)
    return crop_box(((x + 0.5) * scale_x, (y + 0.5) * scale_y), region_size, image_size)
