"""Lesion discovery: cluster the features found at the strongest attention responses of a set of images.

Zoom-in-Net (Wang et al., MICCAI 2017) shows what its gated attention has learnt by clustering the
M-Net feature vectors at the highest responses of the gated attention maps over many images: the
clusters gather regions that look alike (microaneurysms, exudates, haemorrhages, ... but also the optic
disc or vessel crossings). Here the clustering is
:func:`~monai_weakloc.localize.clustering.cluster_attention_regions` (affinity propagation, which picks
the number of clusters), the picture :func:`~monai_weakloc.report.write_montage` with one row of image
regions per cluster, and the list of members a JSON file with each region's box in original-image pixels.

:class:`LesionClusterWriter` collects what this needs from an evaluator's batches and writes both files
when the evaluator's epoch completes. It keeps every image's feature maps, attention maps and network
input in memory (N x (C h w + K h w + 3 H W) floats): run it over a subset when N is large.

Files written to ``output_dir``: ``lesion_clusters.png`` and ``lesion_clusters.json``::

    {"num_images": N, "top_k": k, "num_regions": R,
     "clusters": {"0": [{"image": "<id>", "x": .., "y": .., "w": .., "h": .., "grid_y": i, "grid_x": j}, ...], ...}}
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.data import MetaTensor
from monai.utils import CommonKeys

from monai_weakloc.engines.localization_outputs import input_boxes_to_original
from monai_weakloc.localize.clustering import cluster_attention_regions
from monai_weakloc.report.montage import cluster_montage_rows, write_montage
from monai_weakloc.transforms import CROP_BOX_META_KEY, ORIGINAL_SIZE_META_KEY

__all__ = ["LESION_CLUSTERS_JSON", "LESION_CLUSTERS_PNG", "LesionClusterWriter", "discover_lesion_clusters"]

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


class LesionClusterWriter:
    """Ignite handler, attached to an evaluator, running :func:`discover_lesion_clusters` over its data.

    Args:
        output_dir: where the files go.
        maps: ``maps(engine)`` -> (features (B, C, h, w), attention (B, K, h, w)) of the current batch;
            called under ``torch.no_grad()`` after each iteration (e.g. the network's ``features`` of
            ``engine.state.output["image"]`` and the gated maps of ``engine.state.output["pred"]``).
        top_k: locations taken per image and attention channel.
        region_size: side of the region boxed around each location, in network-input pixels (``None``: the
            grid cell).
        image_key: batch key of the network input (a ``MetaTensor`` with ``original_size`` and, after a
            border crop, ``crop_box`` in its meta).
        id_key: batch key of the image ids.
        max_per_cluster: regions shown per cluster in the montage.
        random_state: seed of affinity propagation.
        affinity_options: further ``sklearn.cluster.AffinityPropagation`` arguments.
    """

    def __init__(
        self,
        output_dir: str | Path,
        maps: Callable[[Engine], tuple[torch.Tensor, torch.Tensor]],
        top_k: int = 1,
        region_size: int | Sequence[int] | None = None,
        image_key: str = CommonKeys.IMAGE,
        id_key: str = "id",
        max_per_cluster: int = 8,
        random_state: int = 0,
        affinity_options: dict[str, Any] | None = None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.maps = maps
        self.top_k = top_k
        self.region_size = region_size
        self.image_key = image_key
        self.id_key = id_key
        self.max_per_cluster = max_per_cluster
        self.random_state = random_state
        self.affinity_options = dict(affinity_options or {})
        self.reset()

    def attach(self, engine: Engine) -> None:
        """Attach to an evaluator."""
        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.write)

    def reset(self, engine: Engine | None = None) -> None:
        """Forget the batches of an earlier run."""
        self._features: list[torch.Tensor] = []
        self._attention: list[torch.Tensor] = []
        self._images: list[torch.Tensor] = []
        self._ids: list[str] = []
        self._crop_boxes: list[list[int]] = []

    def collect(self, engine: Engine) -> None:
        """Keep the maps, network inputs, ids and crop boxes of the current batch."""
        batch = engine.state.batch
        with torch.no_grad():
            features, attention = self.maps(engine)
        image = batch[self.image_key]
        if not isinstance(image, MetaTensor):
            raise TypeError(
                f"LesionClusterWriter: batch['{self.image_key}'] must be a MetaTensor carrying the loader's "
                f"{ORIGINAL_SIZE_META_KEY!r} meta data, got {type(image).__name__}"
            )
        meta = image.meta
        self._features.append(features.detach().float().cpu())
        self._attention.append(attention.detach().float().cpu())
        self._images.append(image.as_tensor().detach().float().cpu())
        for index, image_id in enumerate(batch[self.id_key]):
            if CROP_BOX_META_KEY in meta:
                crop_box = [int(value) for value in meta[CROP_BOX_META_KEY][index]]
            else:
                height, width = (int(value) for value in meta[ORIGINAL_SIZE_META_KEY][index])
                crop_box = [0, 0, width, height]
            self._ids.append(str(image_id))
            self._crop_boxes.append(crop_box)

    def write(self, engine: Engine | None = None) -> None:
        """Cluster everything collected and write ``lesion_clusters.png`` and ``lesion_clusters.json``."""
        if not self._ids:
            raise ValueError("LesionClusterWriter: the evaluator gave no image to cluster")
        discover_lesion_clusters(
            torch.cat(self._features),
            torch.cat(self._attention),
            torch.cat(self._images),
            self._ids,
            self._crop_boxes,
            self.output_dir,
            top_k=self.top_k,
            region_size=self.region_size,
            max_per_cluster=self.max_per_cluster,
            random_state=self.random_state,
            **self.affinity_options,
        )
