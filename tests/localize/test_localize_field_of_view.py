"""Field-of-view helpers: the partial-cover grid rule, masking maps, points inside, region sampling inside."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from monai_weakloc.localize import sample_regions
from monai_weakloc.localize.field_of_view import (
    field_of_view_on_grid,
    inside_field_of_view,
    mask_outside_field_of_view,
)


def single_pixel_mask(row: int, col: int, size: int = 6) -> torch.Tensor:
    """(1, 1, size, size) mask with one pixel set."""
    mask = torch.zeros(1, 1, size, size)
    mask[0, 0, row, col] = 1.0
    return mask


@pytest.mark.parametrize(
    ("pixel", "cells"),
    [
        # 6 px on a 4-cell grid: cell i spans [1.5 i, 1.5 (i + 1)); pixel j spans [j, j + 1)
        ((2, 2), [(1, 1)]),
        ((3, 3), [(2, 2)]),
        ((1, 1), [(0, 0), (0, 1), (1, 0), (1, 1)]),  # pixel 1 overlaps cells 0 and 1
        ((0, 5), [(0, 3)]),
    ],
)
def test_a_grid_cell_is_inside_when_the_mask_covers_it_partly(pixel, cells):
    inside = field_of_view_on_grid(single_pixel_mask(*pixel), (4, 4))
    assert inside.shape == (1, 4, 4) and inside.dtype == torch.bool
    assert sorted(map(tuple, inside[0].nonzero().tolist())) == cells


def test_a_finer_grid_takes_the_mask_pixel_under_each_cell():
    mask = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])  # (B, H, W) without a channel
    inside = field_of_view_on_grid(mask, (4, 4))
    assert inside[0].int().tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_masked_maps_have_their_maximum_inside_and_keep_their_values_there():
    maps = torch.arange(16.0).reshape(1, 4, 4)  # the maximum is in the bottom-right corner
    fov = torch.zeros(1, 1, 8, 8)
    fov[0, 0, :4, :4] = 1.0  # the top-left quarter
    masked = mask_outside_field_of_view(maps, fov)
    assert masked[0, :2, :2].tolist() == maps[0, :2, :2].tolist()
    assert torch.isinf(masked[0, 2:]).all() and torch.isinf(masked[0, :, 2:]).all()
    assert int(masked.flatten().argmax()) == 5  # row 1, column 1: the largest value inside
    assert mask_outside_field_of_view(maps, fov[:, 0] > 0, fill=-1.0)[0, 3, 3] == -1.0
    assert torch.equal(maps, torch.arange(16.0).reshape(1, 4, 4))  # not modified in place


def test_mask_errors_name_the_bad_argument():
    with pytest.raises(ValueError, match="2 masks for a batch of 1"):
        mask_outside_field_of_view(torch.zeros(1, 4, 4), torch.ones(2, 1, 8, 8))
    with pytest.raises(ValueError, match="field_of_view must have shape"):
        mask_outside_field_of_view(torch.zeros(1, 4, 4), torch.ones(1, 3, 8, 8))
    with pytest.raises(ValueError, match="maps must be a floating tensor"):
        mask_outside_field_of_view(torch.zeros(4, 4), torch.ones(1, 1, 8, 8))
    with pytest.raises(TypeError, match="maps must be a torch tensor"):
        mask_outside_field_of_view(np.zeros((1, 4, 4)), torch.ones(1, 1, 8, 8))


def test_points_inside_follow_the_pixel_convention_and_the_image_edges():
    fov = np.zeros((4, 6), dtype=bool)
    fov[1, 2] = True  # covers x in [2, 3), y in [1, 2)
    points = torch.tensor(
        [[2.5, 1.5], [2.0, 1.0], [2.999, 1.999], [3.0, 1.5], [1.999, 1.5], [-0.5, 1.5], [6.0, 0.0], [math.nan, 1.0]]
    )
    assert inside_field_of_view(points, fov).tolist() == [True, True, True, False, False, False, False, False]
    assert inside_field_of_view(np.zeros((0, 2)), fov).shape == (0,)
    with pytest.raises(ValueError, match="points must have shape"):
        inside_field_of_view(torch.zeros(3), fov)
    with pytest.raises(ValueError, match="field_of_view must have shape"):
        inside_field_of_view(points, fov[None])


def test_region_sampling_finds_no_region_outside_the_field_of_view_and_stops_when_it_is_covered():
    heatmap = torch.zeros(1, 32, 32)
    heatmap[0, 0, 0] = 10.0  # the strongest peak, in a corner
    heatmap[0, 20, 20] = 5.0
    fov = torch.zeros(1, 1, 32, 32)
    fov[0, 0, 12:28, 12:28] = 1.0
    (unmasked,) = sample_regions(heatmap, num_regions=4, mask_size=16)
    assert (unmasked[0].x, unmasked[0].y) == (0.5, 0.5)
    (regions,) = sample_regions(heatmap, num_regions=4, mask_size=16, field_of_view=fov)
    assert (regions[0].x, regions[0].y, regions[0].score) == (20.5, 20.5, 5.0)
    assert len(regions) == 1  # the first 16 px square covers the whole field of view: sampling stops
    assert inside_field_of_view(torch.tensor([[r.x, r.y] for r in regions]), fov[0, 0]).all()
