"""Regions and points found on a heatmap, and the coordinate convention they share.

Coordinates are continuous pixel coordinates of an image, origin at the top-left corner: ``x`` runs along
the columns, ``y`` along the rows, and pixel ``(row, col)`` covers ``[col, col + 1) x [row, row + 1)``, so
its centre is at ``(col + 0.5, row + 0.5)``. A box ``(x0, y0, x1, y1)`` covers ``x0 <= x < x1`` and
``y0 <= y < y1``; for integer boxes that is the pixel slice ``[y0:y1, x0:x1]``. The dataset readers' ``x, y, w, h``
boxes use the same convention (``x0 = x``, ``x1 = x + w``). With this convention, going from a
heatmap of size (h, w) to an image of size (H, W) multiplies every coordinate by ``W / w`` and ``H / h``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Point", "Region", "scale_point", "scale_region", "validate_size"]


@dataclass(frozen=True)
class Point:
    """A location on an image with a score.

    Attributes:
        x: column coordinate (pixel centres at ``col + 0.5``).
        y: row coordinate (pixel centres at ``row + 0.5``).
        score: the heatmap value there.
    """

    x: float
    y: float
    score: float


@dataclass(frozen=True)
class Region:
    """A box on an image with the location it was found at and a score.

    Attributes:
        x: column coordinate of the location the region was found at (the peak).
        y: row coordinate of that location.
        box: ``(x0, y0, x1, y1)``, ``x1`` and ``y1`` exclusive.
        score: the region's score (its peak value, or the mean inside, as the producer documents).
    """

    x: float
    y: float
    box: tuple[float, float, float, float]
    score: float


def validate_size(size: Sequence[int], name: str) -> tuple[int, int]:
    """Check an image size ``(H, W)`` and return it as a tuple of two positive ints.

    Args:
        size: ``(H, W)``.
        name: the argument name used in the error message.

    Raises:
        ValueError: when ``size`` is not two positive integers.
    """
    if len(size) != 2 or any(int(s) != s or s <= 0 for s in size):
        raise ValueError(f"{name} must be two positive integers (H, W), got {tuple(size)}")
    return int(size[0]), int(size[1])


def scale_point(point: Point, source_size: tuple[int, int], target_size: tuple[int, int]) -> Point:
    """Map a point from an image of ``source_size`` (H, W) to one of ``target_size`` (H, W)."""
    scale_y = target_size[0] / source_size[0]
    scale_x = target_size[1] / source_size[1]
    return Point(x=point.x * scale_x, y=point.y * scale_y, score=point.score)


def scale_region(region: Region, source_size: tuple[int, int], target_size: tuple[int, int]) -> Region:
    """Map a region (location and box) from an image of ``source_size`` (H, W) to one of ``target_size`` (H, W)."""
    scale_y = target_size[0] / source_size[0]
    scale_x = target_size[1] / source_size[1]
    x0, y0, x1, y1 = region.box
    return Region(
        x=region.x * scale_x,
        y=region.y * scale_y,
        box=(x0 * scale_x, y0 * scale_y, x1 * scale_x, y1 * scale_y),
        score=region.score,
    )
