"""Zoom-in-Net outputs as the host's localization results (probabilities, gated maps, region boxes)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from monai_weakloc.engines.localization_outputs import LocalizationBatch
from weakloc_networks.zoom_in_net import ZoomInNet

__all__ = ["zoom_in_net_localization"]


def zoom_in_net_localization(outputs: Mapping[str, torch.Tensor], phase: int = 3) -> LocalizationBatch:
    """Turn a Zoom-in-Net forward's dict into a :class:`LocalizationBatch`.

    Args:
        outputs: the forward's dict for a batch (``gated_maps`` (B, K, h, w), ``regions`` (B, N, 4),
            ``region_map`` (B, h, w)).
        phase: the phase whose heads give the probabilities (see :meth:`ZoomInNet.predict_proba`).

    Returns:
        probabilities (B, K); heatmaps: the gated maps of grades 1..K-1, (B, K-1, h, w); boxes: per image
        the regions taken, (n_i, 4) ``x, y, w, h`` in low-resolution pixels; region_map: the map the regions
        were sampled from (B, h, w) (the gated maps' sum with the paper's ``region_map_kind``), which the
        overlays show and the host scores the boxes from.
    """
    probabilities = ZoomInNet.predict_proba(outputs, phase)
    boxes = [regions[regions[:, 2] > 0] for regions in outputs["regions"]]
    return LocalizationBatch(
        probabilities=probabilities,
        heatmaps=outputs["gated_maps"][:, 1:],
        boxes=boxes,
        region_map=outputs["region_map"],
    )
