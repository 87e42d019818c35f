"""Greedy region sampling, crop placement on the high-resolution image, crop extraction."""

from __future__ import annotations

import pytest
import torch

from weakloc_networks.zoom_in_regions import corners_to_boxes, extract_crops, map_corners, sample_regions


def planted_map() -> torch.Tensor:
    """(1, 64, 64) zeros with peaks 5 at (y=10, x=10), 4 at (40, 50), 3.5 at (12, 14), 2 at (60, 5)."""
    heatmap = torch.zeros(1, 64, 64)
    heatmap[0, 10, 10] = 5.0
    heatmap[0, 40, 50] = 4.0
    heatmap[0, 12, 14] = 3.5
    heatmap[0, 60, 5] = 2.0
    return heatmap


def test_picks_planted_maxima_suppresses_neighbours_and_shifts_inside():
    heatmap = planted_map()
    corners = sample_regions(heatmap, region_size=16, num_regions=4)
    # peak 5 centred; peak 4 centred; peak 3.5 lies in the first square so it is skipped; peak 2 near the
    # bottom-left corner gives a square shifted inside; then the first zero left in row-major order.
    assert corners.tolist() == [[[2, 2], [42, 32], [0, 48], [0, 0]]]
    assert torch.equal(heatmap, planted_map())


def test_early_stop_below_threshold_leaves_minus_one_rows():
    heatmap = planted_map()
    assert sample_regions(heatmap, 16, 4, threshold=1.0).tolist() == [[[2, 2], [42, 32], [0, 48], [-1, -1]]]
    assert sample_regions(heatmap, 16, 4, threshold=4.5).tolist() == [[[2, 2], [-1, -1], [-1, -1], [-1, -1]]]
    assert sample_regions(heatmap, 16, 4, threshold=6.0).tolist() == [[[-1, -1]] * 4]


def test_each_image_of_a_batch_is_sampled_on_its_own():
    heatmap = torch.zeros(2, 32, 32)
    heatmap[0, 20, 20] = 1.0
    heatmap[1, 3, 28] = 1.0
    corners = sample_regions(heatmap, region_size=8, num_regions=1, threshold=0.5)
    assert corners.tolist() == [[[16, 16]], [[24, 0]]]


def test_stops_when_the_map_is_used_up():
    corners = sample_regions(torch.rand(1, 8, 8), region_size=8, num_regions=3)
    assert corners.tolist() == [[[0, 0], [-1, -1], [-1, -1]]]


@pytest.mark.parametrize(
    ("heatmap", "region_size", "num_regions", "message"),
    [
        (torch.zeros(8, 8), 4, 1, "heatmap must be"),
        (torch.zeros(1, 8, 8), 9, 1, "region_size"),
        (torch.zeros(1, 8, 8), 4, 0, "num_regions"),
        (torch.full((1, 8, 8), float("nan")), 4, 1, "NaN"),
    ],
)
def test_bad_input_is_named(heatmap, region_size, num_regions, message):
    with pytest.raises(ValueError, match=message):
        sample_regions(heatmap, region_size, num_regions)


def test_boxes_are_square_with_minus_one_rows_kept():
    corners = torch.tensor([[[2, 3], [-1, -1]]])
    assert corners_to_boxes(corners, 16).tolist() == [[[2, 3, 16, 16], [-1, -1, -1, -1]]]


def test_crops_are_centred_at_the_same_relative_place_and_shifted_inside():
    corners = torch.tensor([[[2, 2], [48, 48], [48, 0], [-1, -1]]])
    crop_corners = map_corners(corners, region_size=16, source_size=(64, 64), target_size=(128, 128), crop_size=40)
    # centres (10, 10) -> (20, 20) -> crop at 0 after the shift; (56, 56) -> (112, 112) -> 92, shifted to 88.
    assert crop_corners.tolist() == [[[0, 0], [88, 88], [88, 0], [-1, -1]]]
    centred = map_corners(torch.tensor([[[20, 24]]]), 16, (64, 64), (160, 160), crop_size=30)
    assert centred.tolist() == [[[55, 65]]]
    with pytest.raises(ValueError, match="crop_size"):
        map_corners(corners, 16, (64, 64), (128, 128), crop_size=129)


def test_extract_crops_returns_the_taken_slices_in_batch_order():
    image = torch.arange(2 * 1 * 10 * 10, dtype=torch.float32).reshape(2, 1, 10, 10)
    crop_corners = torch.tensor([[[1, 2], [-1, -1]], [[6, 0], [0, 7]]])
    crops, taken = extract_crops(image, crop_corners, crop_size=3)
    assert taken.tolist() == [[True, False], [True, True]]
    expected = torch.stack([image[0, :, 2:5, 1:4], image[1, :, 0:3, 6:9], image[1, :, 7:10, 0:3]])
    assert torch.equal(crops, expected)
    none, taken = extract_crops(image, torch.full((2, 2, 2), -1), crop_size=3)
    assert none.shape == (0, 1, 3, 3) and not taken.any()
