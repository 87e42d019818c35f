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

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from monai_weakloc.localize import (
    Detections,
    Localization,
    heatmap_to_boxes,
    heatmap_to_points,
    resize_heatmaps,
)
from monai_weakloc.localize.field_of_view import (
    field_of_view_batch,
    field_of_view_on_grid,
    inside_field_of_view,
)
from monai_weakloc.localize.map_geometry import MapGeometry, cell_centres, resample_to_input
from monai_weakloc.localize.region import Point, scale_point

__all__ = ["SelfTransferLocalizer"]

OUTSIDE = -1.0
"""The value of normalised maps (on their grid and resized) outside the field of view: below every value inside,
so that no maximum, point or box lies there."""


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
        if isinstance(class_names, (str, bytes)) or not isinstance(class_names, Sequence):
            raise TypeError(f"SelfTransferLocalizer: class_names must be a sequence of names, got {class_names!r}")
        if not all(isinstance(name, str) for name in class_names):
            raise TypeError(f"SelfTransferLocalizer: class_names must be strings, got {list(class_names)}")
        if not class_names or len(set(class_names)) != len(class_names):
            raise ValueError(
                f"SelfTransferLocalizer: class_names must be distinct and at least one, got {list(class_names)}"
            )
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
        logits, maps = self._outputs(pred)
        probabilities = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1)
        field_of_view = self._field_of_view(batch, maps.shape[0])
        input_size = self._input_size(batch, field_of_view)
        grid_size = (int(maps.shape[-2]), int(maps.shape[-1]))
        geometry = self.map_geometry if input_size is not None else None
        indices = range(len(self.class_names)) if self.multi_label else (self.positive_class,)
        names = [self.class_names[k] for k in indices]
        on_input = None
        if field_of_view is not None and input_size is not None:
            on_input = field_of_view_on_grid(field_of_view, input_size)
        if geometry is None:
            inside = None if field_of_view is None else field_of_view_on_grid(field_of_view, grid_size)
            normalised = {name: _normalised(maps[:, k], inside) for k, name in zip(indices, names)}
            grid_maps = normalised
        else:
            inside = None if on_input is None else _cells_inside(on_input, geometry, grid_size)
            aligned = resample_to_input(maps, input_size, geometry)
            normalised = {name: _normalised(aligned[:, k], on_input) for k, name in zip(indices, names)}
            grid_maps = {name: _normalised(maps[:, k], inside) for k, name in zip(indices, names)}
        heatmaps = {name: normalised[name] * probabilities[:, k, None, None] for k, name in zip(indices, names)}
        points = boxes = None
        if input_size is not None:
            points = self._points(grid_maps, probabilities, inside, on_input, input_size, geometry)
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

    def _points(
        self,
        grid_maps: dict[str, torch.Tensor],
        probabilities: torch.Tensor,
        inside: torch.Tensor | None,
        on_input: torch.Tensor | None,
        input_size: tuple[int, int],
        geometry: MapGeometry | None,
    ) -> list[Detections]:
        """Per image, one point per normalised (B, h, w) map on its grid (``inside``: (B, h, w) cells in the field
        of view; ``on_input``: (B, H, W) the field of view on the input), in pixels of the (H, W) input."""
        points: list[list[Detections]] = [[] for _ in range(probabilities.shape[0])]
        for name, maps in grid_maps.items():
            k = self.class_names.index(name)
            grid = maps if inside is None else maps.masked_fill(~inside, OUTSIDE)
            for index, found in enumerate(points):
                image_field_of_view = None if on_input is None else on_input[index]
                probability = probabilities[index, k]
                found.append(_point(grid[index], image_field_of_view, input_size, name, probability, geometry))
        return [_joined(found, 2) for found in points]

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
        return [_joined(found, 4) for found in boxes]

    def _outputs(self, pred: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The localizer's logits (B, K) and maps (B, K, h, w), detached float32 on the CPU, checked."""
        if not isinstance(pred, Mapping):
            raise TypeError(
                f"SelfTransferLocalizer: pred must be the network's dict of outputs, got {type(pred).__name__}"
            )
        missing = [key for key in ("localizer", "maps") if key not in pred]
        if missing:
            raise ValueError(f"SelfTransferLocalizer: pred lacks {missing}, got keys {sorted(pred)}")
        logits = pred["localizer"].detach().float().cpu()
        maps = pred["maps"].detach().float().cpu()
        num_classes = len(self.class_names)
        if logits.ndim != 2 or logits.shape[1] != num_classes:
            raise ValueError(
                f"SelfTransferLocalizer: localizer logits must be (B, {num_classes}) for {num_classes} class names, "
                f"got {tuple(logits.shape)}"
            )
        if maps.ndim != 4 or tuple(maps.shape[:2]) != tuple(logits.shape):
            raise ValueError(
                f"SelfTransferLocalizer: maps must be ({logits.shape[0]}, {num_classes}, h, w), got {tuple(maps.shape)}"
            )
        return logits, maps

    def _field_of_view(self, batch: Mapping[str, Any] | None, batch_size: int) -> torch.Tensor | None:
        """The batch's field of view (B, H, W) bool on the CPU; ``None`` without one."""
        masks = batch.get(self.field_of_view_key) if isinstance(batch, Mapping) else None
        if masks is None:
            return None
        return field_of_view_batch(masks, batch_size).cpu()

    def _input_size(
        self, batch: Mapping[str, Any] | None, field_of_view: torch.Tensor | None
    ) -> tuple[int, int] | None:
        """(H, W) of the network input; ``None`` without a batch."""
        if batch is None:
            return None
        image = batch.get(self.image_key) if isinstance(batch, Mapping) else None
        if image is not None:
            return int(image.shape[-2]), int(image.shape[-1])
        if field_of_view is not None:
            return int(field_of_view.shape[-2]), int(field_of_view.shape[-1])
        raise ValueError(
            f"SelfTransferLocalizer: the batch has neither {self.image_key!r} nor {self.field_of_view_key!r} to give "
            "the input size of the points and boxes"
        )

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


def _point(
    grid_map: torch.Tensor,
    field_of_view: torch.Tensor | None,
    input_size: tuple[int, int],
    name: str,
    probability: torch.Tensor,
    geometry: MapGeometry | None,
) -> Detections:
    """One image's point for one class, in pixels of the (H, W) input, scored by the class probability.

    The centre of the maximal cell of the normalised (h, w) ``grid_map`` (``OUTSIDE`` in cells outside the field
    of view): by ``geometry`` when given, else with the map spread evenly over the input, and then, where that
    centre lies outside the (H, W) ``field_of_view``, the centre of the cell's input pixel inside it that is
    nearest to the cell's centre. None when no cell lies inside.
    """
    grid_size = (int(grid_map.shape[0]), int(grid_map.shape[1]))
    found = heatmap_to_points(grid_map, min_distance=max(grid_size), threshold=0.0, max_points=1)[0]
    coordinates = torch.zeros(0, 2)
    if found and geometry is not None:
        row, col = int(found[0].y), int(found[0].x)
        x = cell_centres(geometry, grid_size[1], input_size[1])[col]
        y = cell_centres(geometry, grid_size[0], input_size[0])[row]
        coordinates = torch.tensor([[float(x), float(y)]])
    elif found:
        cell = found[0]
        centre = scale_point(cell, grid_size, input_size)
        coordinates = torch.tensor([[centre.x, centre.y]])
        if field_of_view is not None and not inside_field_of_view(coordinates, field_of_view)[0]:
            coordinates = _nearest_inside_pixel(cell, grid_size, field_of_view)
    count = coordinates.shape[0]
    return Detections(coordinates.float(), [name] * count, probability.reshape(1).repeat(count))


def _cells_inside(on_input: torch.Tensor, geometry: MapGeometry, grid_size: tuple[int, int]) -> torch.Tensor:
    """(B, h, w) bool: the cells whose centre (by ``geometry``, clamped into the input) is a pixel of the (B, H, W)
    field of view ``on_input``."""
    rows = cell_centres(geometry, grid_size[0], on_input.shape[-2]).floor().long()
    cols = cell_centres(geometry, grid_size[1], on_input.shape[-1]).floor().long()
    return on_input[:, rows[:, None], cols[None, :]]


def _nearest_inside_pixel(cell: Point, grid_size: tuple[int, int], field_of_view: torch.Tensor) -> torch.Tensor:
    """(1, 2): the centre of the (H, W) ``field_of_view``'s inside pixel nearest to the centre of ``cell`` (given
    at ``i + 0.5`` on the grid) among the pixels the cell overlaps (at least one of them is inside, by the grid
    rule of :func:`~monai_weakloc.localize.field_of_view.field_of_view_on_grid`); the first in row-major order on
    ties."""
    height, width = field_of_view.shape
    row_scale, col_scale = height / grid_size[0], width / grid_size[1]
    row, col = int(cell.y), int(cell.x)
    rows = torch.arange(math.floor(row * row_scale), math.ceil((row + 1) * row_scale))
    cols = torch.arange(math.floor(col * col_scale), math.ceil((col + 1) * col_scale))
    centre_y, centre_x = cell.y * row_scale, cell.x * col_scale
    distances = ((rows[:, None] + 0.5 - centre_y) ** 2 + (cols[None, :] + 0.5 - centre_x) ** 2).double()
    distances = distances.masked_fill(~field_of_view[rows[:, None], cols[None, :]], math.inf)
    nearest = int(distances.flatten().argmin())
    return torch.tensor([[cols[nearest % cols.numel()] + 0.5, rows[nearest // cols.numel()] + 0.5]])


def _normalised(maps: torch.Tensor, inside: torch.Tensor | None) -> torch.Tensor:
    """Min-max normalise (B, h, w) maps per image to [0, 1] over the cells ``inside`` ((B, h, w) bool, or
    ``None`` for all), 0 outside them; a flat map (or one with no cell inside) becomes 0."""
    if inside is None:
        inside = torch.ones_like(maps, dtype=torch.bool)
    low = maps.masked_fill(~inside, torch.inf).amin(dim=(1, 2), keepdim=True)
    high = maps.masked_fill(~inside, -torch.inf).amax(dim=(1, 2), keepdim=True)
    span = high - low
    flat = ~(span > 0)
    scaled = (maps - low.masked_fill(flat, 0.0)) / span.masked_fill(flat, 1.0)
    return scaled.masked_fill(flat | ~inside, 0.0)


def _joined(found: list[Detections], width: int) -> Detections:
    """The detections of one image's heatmaps as one :class:`Detections`."""
    if not found:
        return Detections.empty(width)
    return Detections(
        coordinates=torch.cat([detections.coordinates for detections in found]),
        labels=[label for detections in found for label in detections.labels],
        scores=torch.cat([detections.scores.reshape(-1) for detections in found]),
    )
