"""Lesion discovery: cluster the features found at the strongest attention responses of a set of images.

Zoom-in-Net (Wang et al., MICCAI 2017) shows what its gated attention has learnt by clustering the
M-Net feature vectors at the highest responses of the gated attention maps over many images: the
clusters gather regions that look alike (microaneurysms, exudates, haemorrhages, ... but also the optic
disc or vessel crossings). Here the clustering is
:func:`~monai_weakloc.localize.clustering.cluster_attention_regions` (affinity propagation, which picks
the number of clusters), the picture :func:`~monai_weakloc.report.write_montage` with one row of image
regions per cluster, and the list of members a JSON file with each region's box in original-image pixels.

The Ignite handler that collects these inputs from an evaluator's batches is
:class:`monai_weakloc.engines.lesion_clusters.LesionClusterWriter`.

Files written to ``out_dir``: ``lesion_clusters.png`` and ``lesion_clusters.json``::

    {"num_images": N, "top_k": k, "num_regions": R,
     "clusters": {"0": [{"image": "<id>", "x": .., "y": .., "w": .., "h": .., "grid_y": i, "grid_x": j}, ...], ...}}
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monai_weakloc.localize.clustering import cluster_attention_regions
from monai_weakloc.localize.geometry import input_boxes_to_original
from monai_weakloc.report.montage import cluster_montage_rows, write_montage

__all__ = ["LESION_CLUSTERS_JSON", "LESION_CLUSTERS_PNG", "discover_lesion_clusters"]

logger = logging.getLogger(__name__)

LESION_CLUSTERS_PNG = "lesion_clusters.png"
LESION_CLUSTERS_JSON = "lesion_clusters.json"


def discover_lesion_clusters(
    features: torch.Tensor,
    attention: torch.Tensor,
    images: torch.Tensor,
    image_ids: Sequence[str],
    crop_boxes: Sequence[Sequence[float]],
    out_dir: str | Path,
    top_k: int = 1,
    region_size: int | Sequence[int] | None = None,
    max_per_cluster: int = 8,
    random_state: int = 0,
    **affinity_options: Any,
) -> dict[int, list[dict[str, Any]]]:
    """Cluster the features at the top attention responses and write the montage and the member list.

    Args:
        features: (N, C, h, w) feature maps (Zoom-in-Net: M).
        attention: (N, K, h, w) attention maps on the same grid (Zoom-in-Net: the lesion grades' gated maps).
        images: (N, C_img, H, W) the network inputs the grid covers, for the montage.
        image_ids: N image ids.
        crop_boxes: per image, ``(x0, y0, x1, y1)``: the part of the original image that ``images`` shows
            resized (the whole image when nothing was cropped), for boxes in original pixels.
        out_dir: where ``lesion_clusters.png`` and ``lesion_clusters.json`` go (created if missing).
        top_k: locations taken per image and attention channel.
        region_size: side (or (h, w)) in input pixels of the region boxed around each location; ``None``
            boxes the grid cell.
        max_per_cluster: regions shown per cluster in the montage (the JSON lists every member).
        random_state: seed of affinity propagation.
        affinity_options: further ``sklearn.cluster.AffinityPropagation`` arguments (``damping``, ``preference``).

    Returns:
        cluster id -> members, each ``{"image", "x", "y", "w", "h", "grid_y", "grid_x"}`` with the box in
        original-image pixels.

    Raises:
        ValueError: when the numbers of images, ids and crop boxes differ, or as
            :func:`cluster_attention_regions` (mismatched grids, bad ``top_k``, fewer than 2 locations).
    """
    count = images.shape[0] if images.ndim == 4 else -1
    if count != features.shape[0] or len(image_ids) != count or len(crop_boxes) != count:
        raise ValueError(
            f"discover_lesion_clusters: images {tuple(images.shape)} (N, C, H, W), features {tuple(features.shape)}, "
            f"{len(image_ids)} image ids and {len(crop_boxes)} crop boxes must agree on N"
        )
    input_size = tuple(images.shape[-2:])
    clusters = cluster_attention_regions(
        features, attention, input_size, top_k, region_size=region_size, random_state=random_state, **affinity_options
    )
    rows, titles = cluster_montage_rows(clusters, images, max_per_cluster=max_per_cluster)
    folder = Path(out_dir)
    write_montage(rows, titles, folder / LESION_CLUSTERS_PNG)
    members: dict[int, list[dict[str, Any]]] = {}
    for cluster_id, cluster in clusters.items():
        for member in cluster:
            x0, y0, x1, y1 = member.box
            input_box = np.array([[x0, y0, x1 - x0, y1 - y0]])
            box = input_boxes_to_original(input_box, input_size, crop_boxes[member.image_index])[0]
            members.setdefault(cluster_id, []).append(
                {
                    "image": str(image_ids[member.image_index]),
                    **{name: round(float(value), 1) for name, value in zip(("x", "y", "w", "h"), box)},
                    "grid_y": member.y,
                    "grid_x": member.x,
                }
            )
    summary = {
        "num_images": count,
        "top_k": top_k,
        "num_regions": sum(len(cluster) for cluster in members.values()),
        "clusters": {str(cluster_id): cluster for cluster_id, cluster in members.items()},
    }
    tmp = folder / f".{LESION_CLUSTERS_JSON}.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / LESION_CLUSTERS_JSON)
    logger.info(
        "lesion discovery: %d regions of %d images in %d clusters; wrote %s and %s in %s",
        summary["num_regions"], count, len(members), LESION_CLUSTERS_PNG, LESION_CLUSTERS_JSON, folder,
    )
    return members
