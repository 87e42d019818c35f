from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_weakloc.localize import (
    Point,
    Region,
    border_margins,
    crop_around,
    crop_around_batch,
    crop_box,
    exclude_border,
    filter_border,
)


def _coordinate_image(height: int = 40, width: int = 60) -> torch.Tensor:
    """(2, H, W): channel 0 holds the row index, channel 1 the column index."""
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([rows, cols]).float()


def test_crop_inside_is_centred_on_the_pixel():
    crop, box = crop_around(_coordinate_image(), centre=(30.5, 20.5), crop_size=5)
    assert box == (28, 18, 33, 23)
    assert crop.shape == (2, 5, 5)
    assert (crop[0, 2, 2].item(), crop[1, 2, 2].item()) == (20, 30)


def test_crop_at_the_border_is_shifted_not_padded():
    image = _coordinate_image()
    crop, box = crop_around(image, centre=(59.5, 0.5), crop_size=(10, 16))
    assert box == (44, 0, 60, 10)
    assert crop.shape == (2, 10, 16)
    assert crop.min() >= 0  # no padding value appears
    # box round trip: the crop is exactly the image under its box
    x0, y0, x1, y1 = box
    assert torch.equal(crop, image[:, y0:y1, x0:x1])


def test_crop_of_a_numpy_image_and_a_crop_as_large_as_the_image():
    image = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    crop, box = crop_around(image, centre=(1.0, 1.0), crop_size=(4, 6))
    assert box == (0, 0, 6, 4) and np.array_equal(crop, image)


def test_crop_larger_than_the_image_raises_a_clear_error():
    with pytest.raises(ValueError, match=r"crop_size .*\(12, 12\).* does not fit .*\(10, 30\)"):
        crop_around(torch.zeros(1, 10, 30), centre=(5, 5), crop_size=12)


def test_centre_outside_the_image_is_rejected():
    with pytest.raises(ValueError, match="outside"):
        crop_box((70.0, 5.0), crop_size=4, image_size=(40, 60))


def test_batched_crops_keep_image_indices_and_boxes():
    images = torch.stack([_coordinate_image(), _coordinate_image() + 100])
    batch = crop_around_batch(images, [[(0.5, 0.5), (30.5, 20.5)], [(59.0, 39.0)]], crop_size=8)
    assert batch.crops.shape == (3, 2, 8, 8)
    assert batch.image_indices == [0, 0, 1]
    assert batch.boxes == [(0, 0, 8, 8), (27, 17, 35, 25), (52, 32, 60, 40)]
    for crop, index, (x0, y0, x1, y1) in zip(batch.crops, batch.image_indices, batch.boxes):
        assert torch.equal(crop, images[index, :, y0:y1, x0:x1])


def test_batched_crops_with_no_centres_and_errors_name_the_image():
    empty = crop_around_batch(np.zeros((2, 1, 16, 16)), [[], []], crop_size=4)
    assert empty.crops.shape == (0, 1, 4, 4) and empty.boxes == []
    with pytest.raises(ValueError, match="image 1, centre 0"):
        crop_around_batch(torch.zeros(2, 1, 16, 16), [[(4.0, 4.0)], [(40.0, 4.0)]], crop_size=4)
    with pytest.raises(ValueError, match="one sequence per image"):
        crop_around_batch(torch.zeros(2, 1, 16, 16), [[(4.0, 4.0)]], crop_size=4)


def test_exclude_border_zeroes_the_margins():
    heatmap = torch.ones(2, 20, 40)
    kept = exclude_border(heatmap, kappa=0.1)
    assert border_margins((20, 40), 0.1) == (2, 4)
    assert kept[:, 2:18, 4:36].eq(1).all()
    assert kept.sum() == 2 * 16 * 32
    assert heatmap.eq(1).all()  # the input is not modified
    assert isinstance(exclude_border(np.ones((10, 10)), 0.2), np.ndarray)


def test_filter_border_keeps_the_points_on_kept_pixels():
    points = [Point(x=3.5, y=10.0, score=1.0), Point(x=4.5, y=10.0, score=1.0), Point(x=35.5, y=17.5, score=1.0),
              Point(x=20.0, y=18.0, score=1.0)]
    kept = filter_border(points, image_size=(20, 40), kappa=0.1)
    assert kept == [points[1], points[2]]
    heatmap = np.zeros((20, 40))
    for point in points:
        heatmap[int(point.y), int(point.x)] = 1
    kept_pixels = exclude_border(heatmap, 0.1)
    assert [kept_pixels[int(p.y), int(p.x)] for p in points] == [0, 1, 1, 0]


def test_filter_border_judges_regions_by_their_location():
    region = Region(x=20.0, y=10.0, box=(0.0, 0.0, 40.0, 20.0), score=1.0)
    assert filter_border([region], image_size=(20, 40), kappa=0.25) == [region]


def test_bad_kappa_is_rejected():
    with pytest.raises(ValueError, match="kappa"):
        exclude_border(np.ones((4, 4)), 0.5)
