"""Zoom-in-Net's localizer: its forward's dict as the host's :class:`~monai_weakloc.localize.Localization`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from monai_weakloc.localize import Detections, Localization
from weakloc_networks.zoom_in_net import ZoomInNet

__all__ = ["ZoomInNetLocalizer"]


class ZoomInNetLocalizer:
    """Grade probabilities, the gated attention maps of the lesion grades and the sampled regions.

    - probabilities: :meth:`ZoomInNet.predict_proba` of the phase (single-label, K grades);
    - heatmaps ``grade1`` .. ``grade{K-1}``: the gated maps G of the lesion grades, (B, h, w) each;
    - boxes: the regions the network sampled (the masked squares, in low-resolution pixels), labelled
      ``box_label``, in the order found, each scored by what ranks them (``region_scores``,
      :meth:`ZoomInNet.region_scores`): the region map's value at the region's peak, or for
      ``region_map_kind="lesion_probability"``, whose map saturates at 1, its log-odds there, so that regions
      the A-Net is nearly sure of still read apart;
    - overlay map: the region map the regions were sampled from.

    Args:
        network: the Zoom-in-Net whose outputs are read (its ``low_res`` is the input size).
        phase: the phase whose heads give the probabilities; ``None`` reads the network's current phase,
            so validation during training follows the phase being trained.
        box_label: the label of every box.
    """

    def __init__(self, network: ZoomInNet, phase: int | None = None, box_label: str = "lesion") -> None:
        self.network = network
        self.phase = phase
        self.box_label = box_label

    def __call__(self, pred: Mapping[str, torch.Tensor], batch: Mapping[str, Any] | None = None) -> Localization:
        """Args:
            pred: the forward's dict for a batch (``gated_maps`` (B, K, h, w), ``regions`` (B, N, 4) with rows
                of -1 for regions not taken, ``region_scores`` (B, N), ``region_map`` (B, h, w), the logits).
            batch: unused (the field of view is applied by the network's region sampling).

        Returns:
            the batch's :class:`Localization`.
        """
        phase = self.network.phase if self.phase is None else self.phase
        probabilities = ZoomInNet.predict_proba(pred, phase)
        gated_maps = pred["gated_maps"]
        boxes = []
        for regions, region_scores in zip(pred["regions"], pred["region_scores"]):
            taken = regions[:, 2] > 0
            boxes.append(
                Detections(
                    regions[taken].detach().float().cpu(),
                    [self.box_label] * int(taken.sum()),
                    region_scores[taken].detach().float().cpu(),
                )
            )
        return Localization(
            probabilities=probabilities,
            probability_kind="single_label",
            heatmaps={f"grade{grade}": gated_maps[:, grade] for grade in range(1, gated_maps.shape[1])},
            boxes=boxes,
            overlay_map=pred["region_map"],
        )
