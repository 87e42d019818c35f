from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from monai_weakloc.localize import ClusterMember
from monai_weakloc.report import cluster_montage_rows, write_montage, write_overlay


@pytest.mark.parametrize(("height", "width", "channels"), [(45, 57, 3), (64, 33, 1), (50, 70, 0)])
def test_overlay_png_has_the_image_size(tmp_path, height, width, channels):
    generator = torch.Generator().manual_seed(0)
    shape = (height, width) if channels == 0 else (channels, height, width)
    image = torch.rand(shape, generator=generator)
    heatmap = torch.rand(8, 8, generator=generator)
    path = write_overlay(image, heatmap, tmp_path / "out" / "overlay.png", boxes=[(5, 5, 20, 30)], labels=["MA"],
                         scores=[0.87], colour_bar=False)
    with Image.open(path) as written:
        assert written.size == (width, height)
    with_bar = write_overlay(image, heatmap, tmp_path / "out" / "bar.png", boxes=[(5, 5, 20, 30)], labels=["MA"],
                             scores=[0.87])
    with Image.open(with_bar) as written, Image.open(path) as plain:
        assert written.height == height and written.width > width  # the image, then the colour bar on its right
        assert np.array_equal(np.asarray(written)[:, :width], np.asarray(plain))


def test_overlay_draws_boxes_and_heat_where_they_are(tmp_path):
    image = np.zeros((64, 96), dtype=np.float32)
    heatmap = np.zeros((8, 12), dtype=np.float32)
    heatmap[0, 0] = 1.0
    path = write_overlay(image, heatmap, tmp_path / "o.png", boxes=[(40, 30, 80, 60)], alpha=1.0, colormap="gray",
                         crop_box=(0, 0, 48, 32))
    with Image.open(path) as written:
        pixels = np.asarray(written.convert("RGB")).astype(int)
    green = (pixels[..., 1] > 150) & (pixels[..., 0] < 100)
    rows, cols = np.nonzero(green)
    assert rows.min() >= 28 and rows.max() <= 61 and cols.min() >= 38 and cols.max() <= 81
    assert pixels[1, 1].min() > 200  # the heat peak in the crop's corner is drawn white on gray
    assert pixels[50, 10].max() < 30  # outside the crop: the black image, no heat


def test_overlay_rejects_mismatched_labels(tmp_path):
    with pytest.raises(ValueError, match="labels"):
        write_overlay(np.zeros((8, 8)), np.zeros((8, 8)), tmp_path / "x.png", boxes=[(0, 0, 2, 2)], labels=["a", "b"])
    with pytest.raises(ValueError, match="image"):
        write_overlay(np.zeros((2, 8, 8)), np.zeros((8, 8)), tmp_path / "x.png")


def test_cluster_montage_rows_cut_the_member_boxes_and_the_montage_is_written(tmp_path):
    images = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).reshape(2, 3, 16, 16)
    clusters = {
        0: [ClusterMember(0, 1, 1, (0, 0, 8, 8)), ClusterMember(1, 2, 3, (4, 6, 10, 12))],
        1: [ClusterMember(1, 0, 0, (8, 8, 16, 16))],
    }
    rows, titles = cluster_montage_rows(clusters, images, max_per_cluster=1)
    assert titles == ["cluster 0 (2 regions)", "cluster 1 (1 regions)"]
    assert [len(row) for row in rows] == [1, 1]
    assert torch.equal(rows[1][0], images[1, :, 8:16, 8:16])
    path = write_montage(rows, titles, tmp_path / "montage" / "clusters.png", tile_inches=1.0, dpi=50)
    with Image.open(path) as written:
        assert written.size == (50, 2 * 70)


def test_montage_errors_name_the_bad_region(tmp_path):
    with pytest.raises(ValueError, match=r"rows\[0\]\[1\]"):
        write_montage([[np.zeros((4, 4)), np.zeros((2, 4, 4))]], ["a"], tmp_path / "m.png")
    with pytest.raises(ValueError, match="one title per row"):
        write_montage([[np.zeros((4, 4))]], [], tmp_path / "m.png")
    with pytest.raises(ValueError, match="cluster 3"):
        cluster_montage_rows({3: [ClusterMember(0, 0, 0, (0, 0, 40, 4))]}, np.zeros((1, 16, 16)))


def test_overlay_circles_each_point_so_a_tiny_lesion_stays_visible(tmp_path):
    image = np.zeros((96, 96), dtype=np.float32)
    path = write_overlay(image, np.zeros((8, 8), dtype=np.float32), tmp_path / "p.png", points=[(48.5, 48.5)], alpha=0.0,
                         colour_bar=False)
    with Image.open(path) as written:
        pixels = np.asarray(written.convert("RGB")).astype(int)
    green = (pixels[..., 1] > 150) & (pixels[..., 0] < 100)
    rows, cols = np.nonzero(green)
    distance = np.hypot(rows - 48.5, cols - 48.5)
    assert green[48, 48] and distance.max() < 10  # the cross at the point, nothing far away
    ring = distance > 4  # beyond the cross's arms: the circle, on every side
    assert (rows[ring] < 45).any() and (rows[ring] > 52).any() and (cols[ring] < 45).any() and (cols[ring] > 52).any()
