"""What the map localizers share: the batch's input size and field of view, min-max normalised maps, one point per
map at its maximal cell, and the joining of an image's detections."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from monai_weakloc.localize import Detections, heatmap_to_points
from monai_weakloc.localize.field_of_view import field_of_view_batch, inside_field_of_view
from monai_weakloc.localize.map_geometry import MapGeometry, cell_centres
from monai_weakloc.localize.region import Point, scale_point

__all__ = [
    "OUTSIDE",
    "batch_field_of_view",
    "batch_input_size",
    "cells_inside",
    "checked_class_names",
    "joined_detections",
    "label_points",
    "logits_and_maps",
    "normalised_maps",
]

OUTSIDE = -1.0
"""The value of normalised maps (on their grid and resized) outside the field of view: below every value inside,
so that no maximum, point or box lies there."""


def checked_class_names(class_names: Sequence[str], owner: str) -> tuple[str, ...]:
    """``class_names`` as a tuple, checked: a sequence of at least one distinct string.

    Raises:
        TypeError: when it is not a sequence of strings.
        ValueError: on no or repeated names (messages start with ``owner``).
    """
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, Sequence):
        raise TypeError(f"{owner}: class_names must be a sequence of names, got {class_names!r}")
    if not all(isinstance(name, str) for name in class_names):
        raise TypeError(f"{owner}: class_names must be strings, got {list(class_names)}")
    if not class_names or len(set(class_names)) != len(class_names):
        raise ValueError(f"{owner}: class_names must be distinct and at least one, got {list(class_names)}")
    return tuple(class_names)


def logits_and_maps(
    pred: Mapping[str, torch.Tensor], logits_key: str, num_classes: int, owner: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """A map network's logits ``pred[logits_key]`` (B, K) and ``pred["maps"]`` (B, K, h, w), detached float32 on
    the CPU, checked against the K = ``num_classes`` class names.

    Raises:
        TypeError: when ``pred`` is not a mapping.
        ValueError: on a missing key or shapes that do not fit each other or the class names (messages start with
            ``owner``).
    """
    if not isinstance(pred, Mapping):
        raise TypeError(f"{owner}: pred must be the network's dict of outputs, got {type(pred).__name__}")
    missing = [key for key in (logits_key, "maps") if key not in pred]
    if missing:
        raise ValueError(f"{owner}: pred lacks {missing}, got keys {sorted(pred)}")
    logits = pred[logits_key].detach().float().cpu()
    maps = pred["maps"].detach().float().cpu()
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise ValueError(
            f"{owner}: {logits_key} logits must be (B, {num_classes}) for {num_classes} class names, "
            f"got {tuple(logits.shape)}"
        )
    if maps.ndim != 4 or tuple(maps.shape[:2]) != tuple(logits.shape):
        raise ValueError(f"{owner}: maps must be ({logits.shape[0]}, {num_classes}, h, w), got {tuple(maps.shape)}")
    return logits, maps


def batch_field_of_view(batch: Mapping[str, Any] | None, key: str, batch_size: int) -> torch.Tensor | None:
    """The field of view ``batch[key]`` as (B, H, W) bool on the CPU; ``None`` without one.

    Raises:
        TypeError, ValueError: on a mask that is no array or tensor, of a bad shape or another batch size.
    """
    masks = batch.get(key) if isinstance(batch, Mapping) else None
    if masks is None:
        return None
    return field_of_view_batch(masks, batch_size).cpu()


def batch_input_size(
    batch: Mapping[str, Any] | None,
    image_key: str,
    field_of_view_key: str,
    field_of_view: torch.Tensor | None,
    owner: str,
) -> tuple[int, int] | None:
    """(H, W) of the network input: that of ``batch[image_key]``, else of the (B, H, W) ``field_of_view``;
    ``None`` without a batch.

    Raises:
        ValueError: on a batch with neither (the message starts with ``owner``, the localizer's name).
    """
    if batch is None:
        return None
    image = batch.get(image_key) if isinstance(batch, Mapping) else None
    if image is not None:
        return int(image.shape[-2]), int(image.shape[-1])
    if field_of_view is not None:
        return int(field_of_view.shape[-2]), int(field_of_view.shape[-1])
    raise ValueError(
        f"{owner}: the batch has neither {image_key!r} nor {field_of_view_key!r} to give the input size of the points "
        "and boxes"
    )


def normalised_maps(maps: torch.Tensor, inside: torch.Tensor | None) -> torch.Tensor:
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


def cells_inside(on_input: torch.Tensor, geometry: MapGeometry, grid_size: tuple[int, int]) -> torch.Tensor:
    """(B, h, w) bool: the cells whose centre (by ``geometry``, clamped into the input) is a pixel of the (B, H, W)
    field of view ``on_input``."""
    rows = cell_centres(geometry, grid_size[0], on_input.shape[-2]).floor().long()
    cols = cell_centres(geometry, grid_size[1], on_input.shape[-1]).floor().long()
    return on_input[:, rows[:, None], cols[None, :]]


def label_points(
    grid_maps: Mapping[str, torch.Tensor],
    class_names: Sequence[str],
    probabilities: torch.Tensor,
    inside: torch.Tensor | None,
    on_input: torch.Tensor | None,
    input_size: tuple[int, int],
    geometry: MapGeometry | None,
) -> list[Detections]:
    """Per image, one point per normalised (B, h, w) map on its grid, in pixels of the (H, W) input.

    A map's point is the centre of its maximal cell inside the field of view (by ``geometry`` when given, else
    with the map spread evenly over the input; there, a centre outside the field of view moves to the nearest
    inside pixel of the cell), labelled with the map's name and scored by that name's probability.

    Args:
        grid_maps: name -> (B, h, w) normalised maps, each name one of ``class_names``.
        class_names: the K names, in the order of the probabilities.
        probabilities: (B, K).
        inside: (B, h, w) bool, the cells in the field of view; ``None`` for all.
        on_input: (B, H, W) bool, the field of view on the input; ``None`` for none.
        input_size: (H, W).
        geometry: where the cells sit on the input; ``None`` spreads them evenly.

    Returns:
        B :class:`Detections` of (n, 2) points.
    """
    points: list[list[Detections]] = [[] for _ in range(probabilities.shape[0])]
    for name, maps in grid_maps.items():
        k = list(class_names).index(name)
        grid = maps if inside is None else maps.masked_fill(~inside, OUTSIDE)
        for index, found in enumerate(points):
            image_field_of_view = None if on_input is None else on_input[index]
            probability = probabilities[index, k]
            found.append(_point(grid[index], image_field_of_view, input_size, name, probability, geometry))
    return [joined_detections(found, 2) for found in points]


def joined_detections(found: list[Detections], width: int) -> Detections:
    """The detections of one image's heatmaps as one :class:`Detections` (``width`` 4 for boxes, 2 for points)."""
    if not found:
        return Detections.empty(width)
    return Detections(
        coordinates=torch.cat([detections.coordinates for detections in found]),
        labels=[label for detections in found for label in detections.labels],
        scores=torch.cat([detections.scores.reshape(-1) for detections in found]),
    )


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
