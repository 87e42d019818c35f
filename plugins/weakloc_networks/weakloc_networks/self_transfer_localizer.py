"""Self-transfer learning's localizer: the localizer's class scores and activation maps of
:class:`~weakloc_networks.self_transfer.SelfTransferNetwork` as a :class:`~monai_weakloc.localize.Localization`.

The paper (Hwang and Kim 2016) takes the class probabilities from the localizer, shows the positive class's
activation map "linearly scaled to the range between 0 and the maximum probability", and scores localization by
where the maximal response of that map, bilinearly resized to the image, falls. Here a map's point is the centre
of its maximal cell: the resized map peaks there too (within a pixel), except on a cell along the image border,
where the resized map is flat from the cell's centre to the border and a first-in-row-major arg-max would sit on
the border. Boxes come from the map resized to the network input, where the field of view is applied exactly.
An even resize misplaces the cells of the paper's unpadded AlexNet stack (up to a cell at the far edge); given the
network's :class:`~monai_weakloc.localize.map_geometry.MapGeometry`, the maps are resampled by their cells'
receptive-field centres instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

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

__all__ = ["SelfTransferLocalizer"]


class SelfTransferLocalizer:
    """Class probabilities, scaled activation maps, one point per map at its maximum and boxes around its blobs.

    - probabilities (B, K): softmax of the localizer's logits (single-label) or their sigmoids (multi-label);
    - heatmaps: single-label, the positive class's map only; multi-label, every label's map; each (B, h, w),
      named by its class name, min-max normalised to [0, 1] per image and multiplied by that image's
      probability of the class, so it runs from 0 to the probability (a flat map becomes 0). Where the batch
      carries a field of view, the minimum and maximum are taken over the map cells it covers (at least partly;
      :func:`~monai_weakloc.localize.field_of_view.field_of_view_on_grid`) and the cells outside are 0;
    - points: per image, one per heatmap, at the centre of the heatmap's maximal cell inside the field of view
      (``i + 0.5`` cells, scaled to network-input pixels; the first cell in row-major order on ties). Where the
      field of view covers that cell only partly and its centre falls outside, the point moves to the centre of
      the cell's input pixel inside the field of view nearest to the cell's centre, so it lies inside; label the
      class name, score the class probability;
    - boxes: per image and heatmap, one per connected component (8-neighbourhood) of the resized heatmap at or
      above ``box_threshold`` times its maximum inside the field of view, the component's tight box; label the
      class name, score the heatmap's maximum over the component (the maximum inside the box, unless another
      component reaches into it); highest first per heatmap;
    - overlay map: the first heatmap.

    Points and boxes are in network-input pixels: the input size is that of ``batch[image_key]`` (or of the field
    of view when the batch has no image). Without a batch (``LocalizerProbabilities`` asks for the
    probabilities alone) there are no points or boxes.

    Args:
        class_names: the K class names (single-label) or label names (multi-label), in the order of the logits.
        multi_label: sigmoid per label instead of a softmax, and a heatmap per label.
        positive_class: single-label: the index of the class whose map is shown and localized.
        box_threshold: the fraction of a map's maximum at or above which a pixel belongs to a box, in (0, 1].
        field_of_view_key: the batch key of the field-of-view mask (B, 1, H, W), in network-input pixels.
        image_key: the batch key of the network input (B, C, H, W).
        map_geometry: where the maps' cells sit on the input (the network's
            :meth:`~weakloc_networks.self_transfer.SelfTransferNetwork.map_geometry`). Given, and with a batch,
            the maps are first resampled onto the input's pixels by it (heatmaps (B, H, W)), a cell is inside the
            field of view when its centre is, and a point sits at its cell's receptive-field centre; ``None``
            spreads the maps evenly over the input (the paper's bilinear resize).

    Raises:
        TypeError: when ``class_names`` is not a sequence of strings.
        ValueError: on no or repeated class names, fewer than two classes in single-label mode, a
            ``positive_class`` that is not a class index, or a ``box_threshold`` outside (0, 1].
    """

    def __init__(
        self,
        class_names: Sequence[str],
        multi_label: bool = False,
        positive_class: int = 1,
        box_threshold: float = 0.5,
        field_of_view_key: str = "fov",
        image_key: str = "image",
        map_geometry: MapGeometry | None = None,
    ) -> None:
        class_names = checked_class_names(class_names, "SelfTransferLocalizer")
        if not multi_label:
            if len(class_names) < 2:
                raise ValueError(
                    f"SelfTransferLocalizer: single-label needs two class names or more, got {list(class_names)}"
                )
            if isinstance(positive_class, bool) or not isinstance(positive_class, int) or not (
                0 <= positive_class < len(class_names)
            ):
                raise ValueError(
                    f"SelfTransferLocalizer: positive_class must be a class index in [0, {len(class_names) - 1}], "
                    f"got {positive_class!r}"
                )
        if not 0.0 < box_threshold <= 1.0:
            raise ValueError(f"SelfTransferLocalizer: box_threshold must lie in (0, 1], got {box_threshold!r}")
        self.class_names = tuple(class_names)
        self.multi_label = bool(multi_label)
        self.positive_class = positive_class
        self.box_threshold = float(box_threshold)
        self.field_of_view_key = field_of_view_key
        self.image_key = image_key
        self.map_geometry = map_geometry

    def __call__(self, pred: Mapping[str, torch.Tensor], batch: Mapping[str, Any] | None = None) -> Localization:
        """Args:
            pred: the network's dict: ``localizer`` (B, K) logits and ``maps`` (B, K, h, w) activation maps
                (``classifier`` is not read).
            batch: the batch: ``batch[image_key]`` (B, C, H, W) gives the input size, ``batch[field_of_view_key]``
                (B, 1, H, W), when present, bounds maps, points and boxes.

        Returns:
            the batch's :class:`Localization`.

        Raises:
            TypeError: when ``pred`` is not a mapping.
            ValueError: on a missing key, shapes that do not fit each other or the class names, a bad field of
                view, or a batch with neither an image nor a field of view.
        """
        logits, maps = logits_and_maps(pred, "localizer", len(self.class_names), "SelfTransferLocalizer")
        probabilities = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1)
        field_of_view = batch_field_of_view(batch, self.field_of_view_key, maps.shape[0])
        input_size = batch_input_size(
            batch, self.image_key, self.field_of_view_key, field_of_view, "SelfTransferLocalizer"
        )
        grid_size = (int(maps.shape[-2]), int(maps.shape[-1]))
        geometry = self.map_geometry if input_size is not None else None
        indices = range(len(self.class_names)) if self.multi_label else (self.positive_class,)
        names = [self.class_names[k] for k in indices]
        on_input = None
        if field_of_view is not None and input_size is not None:
            on_input = field_of_view_on_grid(field_of_view, input_size)
        if geometry is None:
            inside = None if field_of_view is None else field_of_view_on_grid(field_of_view, grid_size)
            normalised = {name: normalised_maps(maps[:, k], inside) for k, name in zip(indices, names)}
            grid_maps = normalised
        else:
            inside = None if on_input is None else cells_inside(on_input, geometry, grid_size)
            aligned = resample_to_input(maps, input_size, geometry)
            normalised = {name: normalised_maps(aligned[:, k], on_input) for k, name in zip(indices, names)}
            grid_maps = {name: normalised_maps(maps[:, k], inside) for k, name in zip(indices, names)}
        heatmaps = {name: normalised[name] * probabilities[:, k, None, None] for k, name in zip(indices, names)}
        points = boxes = None
        if input_size is not None:
            points = label_points(grid_maps, self.class_names, probabilities, inside, on_input, input_size, geometry)
            boxes = self._boxes_per_image(normalised, probabilities, on_input, input_size)
        return Localization(
            probabilities=probabilities,
            probability_kind="multi_label" if self.multi_label else "single_label",
            class_names=self.class_names,
            heatmaps=heatmaps,
            boxes=boxes,
            points=points,
            overlay_map=next(iter(heatmaps.values())),
        )

    def _boxes_per_image(
        self,
        normalised: dict[str, torch.Tensor],
        probabilities: torch.Tensor,
        on_input: torch.Tensor | None,
        input_size: tuple[int, int],
    ) -> list[Detections]:
        """Per image, the boxes of every normalised (B, h, w) map resized to the (H, W) input (a map already
        there is kept), bounded by the field of view ``on_input`` (B, H, W)."""
        boxes: list[list[Detections]] = [[] for _ in range(probabilities.shape[0])]
        for name, maps in normalised.items():
            k = self.class_names.index(name)
            resized = resize_heatmaps(maps, input_size)
            if on_input is not None:
                resized = resized.masked_fill(~on_input, OUTSIDE)
            for index, found in enumerate(boxes):
                found.append(self._boxes(resized[index], name, probabilities[index, k]))
        return [joined_detections(found, 4) for found in boxes]

    def _boxes(self, image_map: torch.Tensor, name: str, probability: torch.Tensor) -> Detections:
        """Boxes of one resized normalised (H, W) map at ``box_threshold`` of its maximum, scored by the heatmap
        (the map times the class probability)."""
        threshold = self.box_threshold * max(float(image_map.max()), 0.0)
        regions = heatmap_to_boxes(image_map, threshold, score="max")[0]
        coordinates = torch.tensor(
            [[x0, y0, x1 - x0, y1 - y0] for x0, y0, x1, y1 in (region.box for region in regions)], dtype=torch.float32
        ).reshape(-1, 4)
        scores = torch.tensor([region.score for region in regions], dtype=torch.float32) * probability
        return Detections(coordinates, [name] * len(regions), scores)
