"""The multi-attention network's localizer: the label probabilities and per-label maps of
:class:`~weakloc_networks.multi_attention.MultiAttentionNetwork` as a :class:`~monai_weakloc.localize.Localization`.

The paper (Ma et al. 2019) shows the maps before the last average pooling as heatmaps and draws no boxes. Boxes
here are made as ChestX-ray14's authors made theirs (Wang et al. 2017): each map normalised to 0..255, thresholded
at 60 and at 180, one box around every connected region, so that the boxes score with the dataset's IoBB the way
its published baselines do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from monai_weakloc.data import CHESTXRAY14_LABELS
from monai_weakloc.localize import Detections, Localization, heatmap_to_boxes, resize_heatmaps
from monai_weakloc.localize.field_of_view import field_of_view_on_grid
from monai_weakloc.localize.map_geometry import MapGeometry, resample_to_input
from weakloc_networks.map_localization import (
    OUTSIDE,
    batch_field_of_view,
    batch_input_size,
    cells_inside,
    checked_class_names,
    joined_detections,
    label_points,
    logits_and_maps,
    normalised_maps,
)

__all__ = ["MultiAttentionLocalizer"]

BOX_SCALE = 255.0
"""The maps are normalised to 0..BOX_SCALE before the box thresholds apply (Wang et al.'s 0..255)."""


class MultiAttentionLocalizer:
    """Label probabilities, one heatmap and one point per label, and boxes around each map's regions.

    - probabilities (B, K): the sigmoids of the logits (``multi_label``);
    - heatmaps: every label's map, named by the label, min-max normalised to [0, 1] per image and multiplied by
      that image's probability of the label (0 to the probability; a flat map becomes 0). With a batch the maps
      are first brought onto the network input (B, H, W): resampled by their cells' receptive-field centres
      given ``map_geometry``, else resized evenly (bilinear); without one they stay on their (h, w) grid. Where
      the batch carries a field of view, the minimum and maximum are taken inside it and the map is 0 outside;
    - points: per image, one per label, at the centre of the label's maximal map cell inside the field of view,
      in input pixels (by ``map_geometry`` when given, else the cell spread evenly over the input); score the
      label's probability;
    - boxes: per image and label, the map on the input normalised to 0..255, thresholded at each of
      ``box_thresholds`` (pixels at or above), the tight box of every connected region (8-neighbourhood) at every
      threshold, none outside the field of view; label the label's name, score the probability times the
      region's maximum of the normalised map / 255; highest first per label;
    - overlay map: per image, the heatmap of its most probable label.

    Points and boxes are in network-input pixels: the input size is that of ``batch[image_key]`` (or of the field
    of view when the batch has no image). Without a batch (``LocalizerProbabilities`` asks for the
    probabilities alone) there are no points or boxes.

    Args:
        class_names: the K label names, in the order of the logits.
        box_thresholds: thresholds on the 0..255 normalised maps, each in (0, 255] (Wang et al.'s 60 and 180).
        field_of_view_key: the batch key of the field-of-view mask (B, 1, H, W), in network-input pixels.
        image_key: the batch key of the network input (B, C, H, W).
        map_geometry: where the maps' cells sit on the input (the network's
            :meth:`~weakloc_networks.multi_attention.MultiAttentionNetwork.map_geometry`); ``None`` spreads the
            maps evenly over the input.

    Raises:
        TypeError: when ``class_names`` is not a sequence of strings or ``box_thresholds`` not one of numbers.
        ValueError: on no or repeated class names, or no threshold or one outside (0, 255].
    """

    def __init__(
        self,
        class_names: Sequence[str] = CHESTXRAY14_LABELS,
        box_thresholds: Sequence[float] = (60.0, 180.0),
        field_of_view_key: str = "fov",
        image_key: str = "image",
        map_geometry: MapGeometry | None = None,
    ) -> None:
        class_names = checked_class_names(class_names, "MultiAttentionLocalizer")
        if isinstance(box_thresholds, (str, bytes)) or not isinstance(box_thresholds, Sequence):
            raise TypeError(f"MultiAttentionLocalizer: box_thresholds must be a sequence, got {box_thresholds!r}")
        if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in box_thresholds):
            raise TypeError(f"MultiAttentionLocalizer: box_thresholds must be numbers, got {list(box_thresholds)}")
        if not box_thresholds or not all(0.0 < value <= BOX_SCALE for value in box_thresholds):
            raise ValueError(
                f"MultiAttentionLocalizer: box_thresholds must be one or more values in (0, 255], got "
                f"{list(box_thresholds)}"
            )
        self.class_names = tuple(class_names)
        self.box_thresholds = tuple(float(value) for value in box_thresholds)
        self.field_of_view_key = field_of_view_key
        self.image_key = image_key
        self.map_geometry = map_geometry

    def __call__(self, pred: Mapping[str, torch.Tensor], batch: Mapping[str, Any] | None = None) -> Localization:
        """Args:
            pred: the network's dict: ``logits`` (B, K) and ``maps`` (B, K, h, w).
            batch: the batch: ``batch[image_key]`` (B, C, H, W) gives the input size, ``batch[field_of_view_key]``
                (B, 1, H, W), when present, bounds maps, points and boxes; ``None`` for the probabilities and
                grid heatmaps alone.

        Returns:
            the batch's :class:`Localization`.

        Raises:
            TypeError: when ``pred`` is not a mapping.
            ValueError: on a missing key, shapes that do not fit each other or the class names, a bad field of
                view, or a batch with neither an image nor a field of view.
        """
        logits, maps = logits_and_maps(pred, "logits", len(self.class_names), "MultiAttentionLocalizer")
        probabilities = torch.sigmoid(logits)
        field_of_view = batch_field_of_view(batch, self.field_of_view_key, maps.shape[0])
        input_size = batch_input_size(
            batch, self.image_key, self.field_of_view_key, field_of_view, "MultiAttentionLocalizer"
        )
        grid_size = (int(maps.shape[-2]), int(maps.shape[-1]))
        on_input = inside = None
        aligned = maps
        if input_size is not None:
            aligned = self._on_input(maps, input_size)
            if field_of_view is not None:
                on_input = field_of_view_on_grid(field_of_view, input_size)
                inside = (
                    field_of_view_on_grid(field_of_view, grid_size)
                    if self.map_geometry is None
                    else cells_inside(on_input, self.map_geometry, grid_size)
                )
        normalised = {name: normalised_maps(aligned[:, k], on_input) for k, name in enumerate(self.class_names)}
        heatmaps = {name: normalised[name] * probabilities[:, k, None, None] for k, name in enumerate(self.class_names)}
        points = boxes = None
        if input_size is not None:
            grid_maps = {name: normalised_maps(maps[:, k], inside) for k, name in enumerate(self.class_names)}
            points = label_points(
                grid_maps, self.class_names, probabilities, inside, on_input, input_size, self.map_geometry
            )
            boxes = self._boxes_per_image(normalised, probabilities, on_input)
        stacked = torch.stack(list(heatmaps.values()), dim=1)
        most_probable = probabilities.argmax(dim=1)
        return Localization(
            probabilities=probabilities,
            probability_kind="multi_label",
            class_names=self.class_names,
            heatmaps=heatmaps,
            boxes=boxes,
            points=points,
            overlay_map=stacked[torch.arange(stacked.shape[0]), most_probable],
        )

    def _on_input(self, maps: torch.Tensor, input_size: tuple[int, int]) -> torch.Tensor:
        """(B, K, h, w) maps brought onto the (H, W) input: (B, K, H, W), by :attr:`map_geometry` or evenly."""
        if self.map_geometry is not None:
            return resample_to_input(maps, input_size, self.map_geometry)
        batch, labels = maps.shape[:2]
        return resize_heatmaps(maps.flatten(0, 1), input_size).reshape(batch, labels, *input_size)

    def _boxes_per_image(
        self, normalised: dict[str, torch.Tensor], probabilities: torch.Tensor, on_input: torch.Tensor | None
    ) -> list[Detections]:
        """Per image, the boxes of every normalised (B, H, W) map on the input, none outside the field of view
        ``on_input`` (B, H, W)."""
        boxes: list[list[Detections]] = [[] for _ in range(probabilities.shape[0])]
        for k, (name, maps) in enumerate(normalised.items()):
            scaled = maps * BOX_SCALE
            if on_input is not None:
                scaled = scaled.masked_fill(~on_input, OUTSIDE)
            for index, found in enumerate(boxes):
                found.append(self._boxes(scaled[index], name, probabilities[index, k]))
        return [joined_detections(found, 4) for found in boxes]

    def _boxes(self, image_map: torch.Tensor, name: str, probability: torch.Tensor) -> Detections:
        """Boxes of one (H, W) map normalised to 0..255 at every threshold, highest score first."""
        regions = [region for threshold in self.box_thresholds for region in heatmap_to_boxes(image_map, threshold)[0]]
        regions.sort(key=lambda region: -region.score)
        coordinates = torch.tensor(
            [[x0, y0, x1 - x0, y1 - y0] for x0, y0, x1, y1 in (region.box for region in regions)], dtype=torch.float32
        ).reshape(-1, 4)
        scores = torch.tensor([region.score / BOX_SCALE for region in regions], dtype=torch.float32) * probability
        return Detections(coordinates, [name] * len(regions), scores)

