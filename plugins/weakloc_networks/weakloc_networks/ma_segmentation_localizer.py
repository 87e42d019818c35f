"""The microaneurysm segmentation method's localizer: its probability maps as a
:class:`~monai_weakloc.localize.Localization` with one point per segmented microaneurysm.

The host's :func:`~monai_weakloc.localize.heatmap_to_boxes` places a component's point at its highest pixel and
:func:`~monai_weakloc.localize.heatmap_to_points` finds local maxima; a segmented microaneurysm is reported at
its component's centroid, which neither gives, hence the component pass here (``scipy.ndimage``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from monai_weakloc.localize import Detections, Localization
from monai_weakloc.localize.field_of_view import field_of_view_batch, field_of_view_on_grid, inside_field_of_view

__all__ = ["MAP_KEYS", "MASegmentationLocalizer"]

MAP_KEYS: tuple[str, ...] = ("hgn_1x", "hgn_05x", "fused", "final")
"""The maps of the bundle's inference: the two HGN scales, their fusion, and the PRN-refined final map."""

CLASS_NAMES: tuple[str, str] = ("healthy", "microaneurysm")
LESION_LABEL = "MA"


class MASegmentationLocalizer:
    """Image probabilities, the four probability maps, the microaneurysm mask and one point per microaneurysm.

    The final map is ``pred["final"]``, or ``pred["fused"]`` when the PRN stage is off (no ``final``). Where the
    batch carries a field of view (``batch[field_of_view_key]``, (B, 1, H, W)), the final map counts as 0
    outside it before anything is taken from it.

    - probabilities (B, 2): ``[1 - m, m]`` with ``m`` the final map's maximum inside the field of view
      (single-label, classes ``healthy``, ``microaneurysm``);
    - heatmaps: every map of ``pred`` (``hgn_1x``, ``hgn_05x``, ``fused``, ``final`` and the ablation's maps
      such as ``hgn_geometric`` or ``prn_arithmetic``), each (B, H, W), as given;
    - masks: ``{"MA": final}`` (B, H, W), 0 outside the field of view: the mask is the segmentation that
      pixel-level evaluation scores, and the output writer applies the field of view to overlays only;
    - points: per image, one per connected component of ``final >= threshold``, at the centroid of its pixels
      (pixel centres at ``i + 0.5``), label ``MA``, score the component's highest probability, highest first.
      A centroid can fall outside the field of view when a curved component hugs its rim; that point moves to
      the component's highest pixel, which lies inside;
    - overlay map: the final map (the output writer draws no heat outside the field of view).

    Args:
        threshold: the probability at or above which a pixel is a microaneurysm, in (0, 1].
        connectivity: 1 joins pixels sharing an edge (4-neighbourhood), 2 also those sharing a corner (8).
        field_of_view_key: the batch key of the field-of-view mask.

    Raises:
        ValueError: on a threshold outside (0, 1] or a connectivity other than 1 or 2.
    """

    def __init__(self, threshold: float = 0.5, connectivity: int = 2, field_of_view_key: str = "fov") -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"MASegmentationLocalizer: threshold must lie in (0, 1], got {threshold!r}")
        if connectivity not in (1, 2):
            raise ValueError(f"MASegmentationLocalizer: connectivity must be 1 or 2, got {connectivity!r}")
        self.threshold = float(threshold)
        self.structure = ndimage.generate_binary_structure(2, connectivity)
        self.field_of_view_key = field_of_view_key

    def __call__(self, pred: Mapping[str, torch.Tensor], batch: Mapping[str, Any] | None = None) -> Localization:
        """Args:
            pred: probability maps in [0, 1], each (B, 1, H, W): ``hgn_1x``, ``hgn_05x``, ``fused`` and, with the
                PRN stage, ``final``.
            batch: the batch; its ``fov`` (B, 1, H, W) mask, when present, bounds points and probabilities.

        Returns:
            the batch's :class:`Localization`.

        Raises:
            TypeError: when ``pred`` is not a mapping.
            ValueError: on a missing map, maps of different shapes or not (B, 1, H, W), or a bad mask.
        """
        maps = self._maps(pred)
        final = maps["final"] if "final" in maps else maps["fused"]
        inside = self._field_of_view(batch, final)
        scored = final if inside is None else final.masked_fill(~inside.to(final.device), 0.0)
        peak = scored.flatten(1).amax(dim=1)
        points = [
            self._points(image_map, None if inside is None else inside[index]) for index, image_map in enumerate(scored)
        ]
        return Localization(
            probabilities=torch.stack([1.0 - peak, peak], dim=1),
            probability_kind="single_label",
            class_names=CLASS_NAMES,
            heatmaps=maps,
            points=points,
            masks={LESION_LABEL: scored},
            overlay_map=final,
        )

    def _field_of_view(self, batch: Mapping[str, Any] | None, final: torch.Tensor) -> torch.Tensor | None:
        """The batch's field of view on the final map's grid, (B, H, W) bool on the CPU; ``None`` without one."""
        masks = batch.get(self.field_of_view_key) if isinstance(batch, Mapping) else None
        if masks is None:
            return None
        return field_of_view_on_grid(field_of_view_batch(masks, final.shape[0]), tuple(final.shape[-2:])).cpu()

    @staticmethod
    def _maps(pred: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every map of ``pred``, each (B, H, W) float: those of :data:`MAP_KEYS` first, then the others (the
        ablation's maps) by name."""
        if not isinstance(pred, Mapping):
            raise TypeError(f"MASegmentationLocalizer: pred must be a dict of probability maps, got {type(pred).__name__}")
        missing = [key for key in MAP_KEYS[:3] if key not in pred]
        if missing:
            raise ValueError(f"MASegmentationLocalizer: pred lacks the maps {missing}, got keys {sorted(pred)}")
        shape = tuple(pred["fused"].shape)
        maps = {}
        ordered = [key for key in MAP_KEYS if key in pred] + sorted(key for key in pred if key not in MAP_KEYS)
        for key in ordered:
            values = pred[key]
            if values.ndim != 4 or values.shape[1] != 1 or tuple(values.shape) != shape:
                raise ValueError(
                    f"MASegmentationLocalizer: map {key!r} must be (B, 1, H, W) like 'fused' {shape}, "
                    f"got {tuple(values.shape)}"
                )
            maps[key] = values[:, 0].float()
        return maps

    def _points(self, image_map: torch.Tensor, field_of_view: torch.Tensor | None) -> Detections:
        """Points of one (H, W) map, already zeroed outside ``field_of_view`` ((H, W) bool, or ``None``)."""
        values = image_map.detach().cpu().numpy().astype(np.float64)
        components, count = ndimage.label(values >= self.threshold, structure=self.structure)
        if count == 0:
            return Detections.empty(2)
        labels = np.arange(1, count + 1)
        centroids = np.asarray(ndimage.center_of_mass(np.ones_like(values), components, labels)).reshape(count, 2)
        peaks = np.asarray(ndimage.maximum_position(values, components, labels)).reshape(count, 2)
        scores = np.asarray(ndimage.maximum(values, components, labels), dtype=np.float64).reshape(count)
        points = torch.from_numpy(centroids[:, ::-1] + 0.5)
        if field_of_view is not None:
            inside = inside_field_of_view(points, field_of_view)
            points = torch.where(inside[:, None], points, torch.from_numpy(peaks[:, ::-1] + 0.5))
        order = np.argsort(-scores, kind="stable")
        return Detections(
            coordinates=points[order].float(),
            labels=[LESION_LABEL] * count,
            scores=torch.from_numpy(scores[order]).float(),
        )
