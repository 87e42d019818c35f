"""Montage: a grid of image regions with a title per row, for lesion clusters.

Drawn with matplotlib (Agg) on a figure without ``pyplot``, one sub-figure per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from monai.config import NdarrayOrTensor, PathLike

from monai_weakloc.localize.clustering import ClusterMember
from monai_weakloc.report.image_display import display_image

__all__ = ["write_montage", "cluster_montage_rows"]


def write_montage(
    rows: Sequence[Sequence[NdarrayOrTensor]],
    row_titles: Sequence[str],
    path: PathLike,
    tile_inches: float = 1.5,
    dpi: int = 100,
) -> Path:
    """Write a grid of image regions, one titled row per group, as a PNG.

    Args:
        rows: per row, the regions ((h, w), (1, h, w) or (3, h, w) arrays or tensors; sizes may differ),
            each shown min-max scaled. A row may be empty.
        row_titles: one title per row.
        path: the PNG file to write (parent folders are created).
        tile_inches: side of one tile.
        dpi: resolution of the PNG.

    Returns:
        The path written.

    Raises:
        ValueError: when there are no rows, the titles do not match the rows, or a region has a bad shape
            (the message names its row and column).
    """
    if not rows:
        raise ValueError("rows is empty: a montage needs at least one row")
    if len(row_titles) != len(rows):
        raise ValueError(f"row_titles must give one title per row: {len(row_titles)} titles for {len(rows)} rows")
    columns = max(1, max(len(row) for row in rows))
    figure = Figure(figsize=(columns * tile_inches, len(rows) * (tile_inches + 0.4)), dpi=dpi)
    FigureCanvasAgg(figure)
    subfigures = figure.subfigures(len(rows), 1, squeeze=False)[:, 0]
    for row_index, (row, title, subfigure) in enumerate(zip(rows, row_titles, subfigures)):
        subfigure.suptitle(title)
        tiles = subfigure.subplots(1, columns, squeeze=False)[0]
        for column_index, tile in enumerate(tiles):
            tile.set_axis_off()
            if column_index < len(row):
                pixels = display_image(row[column_index], name=f"rows[{row_index}][{column_index}]")
                tile.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=1)
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=dpi, format="png")
    return output


def cluster_montage_rows(
    clusters: Mapping[int, Sequence[ClusterMember]],
    images: NdarrayOrTensor,
    max_per_cluster: int = 8,
) -> tuple[list[list[NdarrayOrTensor]], list[str]]:
    """Cut the regions of each cluster out of their images, as rows for :func:`write_montage`.

    Args:
        clusters: cluster id -> members, as returned by
            :func:`~monai_weakloc.localize.clustering.cluster_attention_regions`.
        images: (B, C, H, W) or (B, H, W) images the members' boxes and indices refer to.
        max_per_cluster: the most regions shown per cluster (the first ones).

    Returns:
        The rows (regions (C, h, w) or (h, w)) and their titles ``cluster <id> (<n> regions)``.

    Raises:
        ValueError: when a member's image index or box does not fit ``images`` (the message names the cluster).
    """
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (B, C, H, W) or (B, H, W), got {tuple(images.shape)}")
    batch_size, height, width = images.shape[0], images.shape[-2], images.shape[-1]
    rows, titles = [], []
    for cluster_id, members in clusters.items():
        row = []
        for member in members[:max_per_cluster]:
            x0, y0, x1, y1 = member.box
            if not (0 <= member.image_index < batch_size and 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                raise ValueError(
                    f"cluster {cluster_id}: member {member} does not fit images of "
                    f"(B, H, W) = ({batch_size}, {height}, {width})"
                )
            row.append(images[member.image_index][..., y0:y1, x0:x1])
        rows.append(row)
        titles.append(f"cluster {cluster_id} ({len(members)} regions)")
    return rows, titles
