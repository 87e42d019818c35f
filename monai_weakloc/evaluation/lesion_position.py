"""The most frequent lesion position of a set of images: where a pointing baseline points.

Images differ in size, so positions are fractions of the image height and width. Each lesion box covers the
cells of a ``grid_size`` x ``grid_size`` grid laid over the unit square that it overlaps (at least the cell
holding its centre); the most frequent lesion position is the centre of the cell covered by the most boxes
(the first in row-major order on ties). A baseline that points there on every image needs no image content,
so a method should beat it: on fundus images lesions gather around the macula, on chest X-rays in the lungs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["GRID_SIZE", "LesionPosition", "most_frequent_lesion_position"]

GRID_SIZE = 100
"""Cells per side of the grid the boxes are counted on."""


@dataclass(frozen=True)
class LesionPosition:
    """The most frequent lesion position of a set of images.

    Attributes:
        row_fraction: the position's row as a fraction of the image height, in [0, 1].
        column_fraction: the position's column as a fraction of the image width, in [0, 1].
        num_boxes: lesion boxes counted.
        num_images: images the boxes came from.
        grid_size: cells per side of the counting grid.
        coverage: boxes covering the chosen cell.
    """

    row_fraction: float
    column_fraction: float
    num_boxes: int
    num_images: int
    grid_size: int
    coverage: int

    @property
    def fractions(self) -> tuple[float, float]:
        """(row fraction, column fraction), as :func:`~monai_weakloc.evaluation.evaluate_pointing` takes it."""
        return self.row_fraction, self.column_fraction


def _covered_cells(start: float, length: float, extent: float, grid_size: int) -> tuple[int, int]:
    """[first, last + 1) cells of one axis that a box span [start, start + length) of an ``extent`` overlaps."""
    first = min(max(math.floor(start / extent * grid_size), 0), grid_size - 1)
    end = min(max(math.ceil((start + length) / extent * grid_size), first + 1), grid_size)
    return first, end


def most_frequent_lesion_position(
    boxes: Mapping[str, np.ndarray], image_sizes: Mapping[str, tuple[int, int]], grid_size: int = GRID_SIZE
) -> LesionPosition:
    """The position covered by the most lesion boxes, as fractions of the image height and width.

    Args:
        boxes: image id -> (N, 4) ``x, y, w, h`` lesion boxes in pixels of that image (N may be 0).
        image_sizes: image id -> (H, W), for every id of ``boxes`` with a box.
        grid_size: cells per side of the counting grid.

    Returns:
        the position and how many boxes it was counted from.

    Raises:
        ValueError: naming the image, for a missing or non-positive size or boxes that are not (N, 4); when
            there is no box at all; for a ``grid_size`` below 1.
    """
    if isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size < 1:
        raise ValueError(f"grid_size must be a positive int, got {grid_size!r}")
    coverage = np.zeros((grid_size, grid_size), dtype=np.int64)
    num_boxes = num_images = 0
    for identifier, image_boxes in boxes.items():
        array = np.asarray(image_boxes, dtype=np.float64)
        if array.size == 0:
            continue
        if array.ndim != 2 or array.shape[1] != 4:
            raise ValueError(f"lesion position: boxes of image {identifier!r} must be (N, 4), got {array.shape}")
        if identifier not in image_sizes:
            raise ValueError(f"lesion position: no image size for image {identifier!r}")
        height, width = (float(size) for size in image_sizes[identifier])
        if height <= 0 or width <= 0:
            raise ValueError(f"lesion position: image {identifier!r} has size {image_sizes[identifier]}, not positive")
        for x, y, box_width, box_height in array:
            row_first, row_end = _covered_cells(y, box_height, height, grid_size)
            column_first, column_end = _covered_cells(x, box_width, width, grid_size)
            coverage[row_first:row_end, column_first:column_end] += 1
        num_boxes += array.shape[0]
        num_images += 1
    if num_boxes == 0:
        raise ValueError("lesion position: no lesion box to count")
    row, column = divmod(int(np.argmax(coverage)), grid_size)
    return LesionPosition(
        row_fraction=(row + 0.5) / grid_size,
        column_fraction=(column + 0.5) / grid_size,
        num_boxes=num_boxes,
        num_images=num_images,
        grid_size=grid_size,
        coverage=int(coverage[row, column]),
    )
