from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_weakloc.localize import Region, sample_regions


def _map_with_peaks(size: int = 32) -> np.ndarray:
    heatmap = np.zeros((size, size), dtype=np.float32)
    heatmap[5, 6] = 0.9
    heatmap[6, 7] = 0.85  # inside the first peak's mask: must never be picked
    heatmap[20, 25] = 0.7
    heatmap[28, 3] = 0.4
    return heatmap


def test_regions_come_in_order_of_value_and_masking_removes_neighbours():
    (regions,) = sample_regions(_map_with_peaks(), num_regions=3, mask_size=5)
    assert [(r.y - 0.5, r.x - 0.5) for r in regions] == [(5, 6), (20, 25), (28, 3)]
    assert [r.score for r in regions] == pytest.approx([0.9, 0.7, 0.4])
    assert regions[0].box == (4.0, 3.0, 9.0, 8.0)  # 5 x 5 square around column 6, row 5
    assert regions[2].box == (1.0, 26.0, 6.0, 31.0)


def test_mask_is_clipped_at_the_border():
    heatmap = np.zeros((16, 16), dtype=np.float32)
    heatmap[0, 15] = 1.0
    (regions,) = sample_regions(heatmap, num_regions=1, mask_size=6)
    assert regions[0].box == (12.0, 0.0, 16.0, 3.0)


def test_sampling_stops_below_threshold():
    (regions,) = sample_regions(_map_with_peaks(), num_regions=4, mask_size=5, threshold=0.5)
    assert len(regions) == 2
    (regions,) = sample_regions(_map_with_peaks(), num_regions=2, mask_size=5)
    assert len(regions) == 2


def test_sampling_stops_when_everything_is_masked():
    (regions,) = sample_regions(np.ones((8, 8), dtype=np.float32), num_regions=10, mask_size=8)
    # masks of side 8 centred on (0, 0), (0, 4), (4, 0), (4, 4) cover the map after four regions
    assert [(r.x, r.y) for r in regions] == [(0.5, 0.5), (4.5, 0.5), (0.5, 4.5), (4.5, 4.5)]


def test_regions_are_scaled_to_the_target_resolution():
    heatmap = np.zeros((10, 10), dtype=np.float32)
    heatmap[2, 7] = 1.0
    (regions,) = sample_regions(heatmap, num_regions=1, mask_size=3, target_size=(100, 200))
    assert (regions[0].x, regions[0].y) == pytest.approx((150.0, 25.0))  # centre of pixel (2, 7), x20 and x10
    assert regions[0].box == pytest.approx((120.0, 10.0, 180.0, 40.0))


def test_heatmap_is_resized_to_the_sampling_size_like_the_paper():
    # a 8 x 8 map with its peak in the lower right quadrant, sampled at 32 x 32 and reported at 80 x 80
    heatmap = torch.zeros(8, 8)
    heatmap[6, 5] = 1.0
    (regions,) = sample_regions(heatmap, num_regions=1, mask_size=8, sampling_size=(32, 32), target_size=(80, 80))
    region = regions[0]
    # bilinear upsampling by 4 puts the maximum on rows/cols 4*i+1 .. 4*i+2; first in row-major order
    assert (region.y, region.x) == pytest.approx(((25 + 0.5) * 2.5, (21 + 0.5) * 2.5))
    assert region.box[2] - region.box[0] == pytest.approx(8 * 2.5)


def test_batch_gives_one_list_per_image():
    maps = np.zeros((3, 16, 16), dtype=np.float32)
    maps[0, 1, 1] = 1.0
    maps[1, 10, 12] = 1.0
    regions = sample_regions(maps, num_regions=1, mask_size=3, threshold=0.5)
    assert [len(r) for r in regions] == [1, 1, 0]
    assert isinstance(regions[1][0], Region) and (regions[1][0].x, regions[1][0].y) == (12.5, 10.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_regions": 0, "mask_size": 3}, "num_regions"),
        ({"num_regions": 1, "mask_size": 0}, "mask_size"),
        ({"num_regions": 1, "mask_size": 3, "target_size": (0, 5)}, "target_size"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_regions(np.zeros((4, 4)), **kwargs)


def test_bad_heatmap_shape_and_values_are_rejected():
    with pytest.raises(ValueError, match=r"\(H, W\) or \(B, H, W\)"):
        sample_regions(np.zeros((1, 2, 4, 4)), num_regions=1, mask_size=1)
    with pytest.raises(ValueError, match="NaN"):
        sample_regions(np.full((4, 4), np.nan), num_regions=1, mask_size=1)
    with pytest.raises(TypeError, match="heatmap"):
        sample_regions([[0.0, 1.0]], num_regions=1, mask_size=1)
