"""Ignite handler collecting an evaluator's batches for lesion discovery and writing the clusters at its end.

:class:`LesionClusterWriter` keeps, batch by batch, what
:func:`~monai_weakloc.localize.discovery.discover_lesion_clusters` needs (the feature maps, the attention
maps, the network inputs, the image ids and the border-crop boxes) and runs it when the evaluator's epoch
completes: ``lesion_clusters.png`` and ``lesion_clusters.json`` in ``output_dir`` (their contents are
described in :mod:`monai_weakloc.localize.discovery`). It keeps every image's feature maps, attention maps
and network input in memory (N x (C h w + K h w + 3 H W) floats): run it over a subset when N is large.
It clusters the images of one process: under ``torchrun`` each process would cluster only its share and all
would write the same files, so it refuses a process group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from monai.data import MetaTensor
from monai.utils import CommonKeys

from monai_weakloc.localize.discovery import discover_lesion_clusters
from monai_weakloc.transforms import CROP_BOX_META_KEY, ORIGINAL_SIZE_META_KEY

__all__ = ["LesionClusterWriter"]


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
        """Attach to an evaluator.

        Raises:
            RuntimeError: under a process group of more than one process.
        """
        if idist.get_world_size() > 1:
            raise RuntimeError(
                "LesionClusterWriter clusters the lesions of all images in one process: run lesion discovery "
                "without torchrun (leave out multi_gpu_inference.json)"
            )
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
