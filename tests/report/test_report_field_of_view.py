"""The field of view back in original-image pixels, and overlays that draw no heat outside it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from monai_weakloc.report import write_overlay
from monai_weakloc.report.geometry import restore_field_of_view


def test_the_input_mask_goes_back_into_the_crop_and_nothing_outside_it_is_in_view():
    fov_input = torch.zeros(4, 4)
    fov_input[:, :2] = 1.0  # the left half of the network input
    restored = restore_field_of_view(fov_input, (10, 20), crop_box=(4, 2, 12, 10))
    assert restored.shape == (10, 20) and restored.dtype == bool
    expected = np.zeros((10, 20), dtype=bool)
    expected[2:10, 4:8] = True  # the left half of the 8 x 8 crop
    np.testing.assert_array_equal(restored, expected)
    np.testing.assert_array_equal(restore_field_of_view(fov_input > 0, (8, 6))[:, :3], np.ones((8, 3), dtype=bool))
    assert not restore_field_of_view(fov_input > 0, (8, 6))[:, 3:].any()


def test_a_disc_cropped_and_resized_to_the_network_input_comes_back_where_it_was():
    rows, columns = np.mgrid[:150, :200]
    disc = np.hypot(columns - 100.5, rows - 70.0) < 85  # cut by the top and bottom edges
    crop_box = (15, 0, 186, 150)
    cropped = torch.as_tensor(disc[:, 15:186], dtype=torch.float32)[None, None]
    fov_input = F.interpolate(cropped, size=(64, 64), mode="nearest-exact")[0, 0]
    restored = restore_field_of_view(fov_input, (150, 200), crop_box)
    assert (restored == disc).mean() > 0.98
    assert not restored[:, :15].any() and not restored[:, 186:].any()


def test_restore_errors_name_the_bad_argument():
    with pytest.raises(ValueError, match="fov_input must have shape"):
        restore_field_of_view(torch.ones(1, 4, 4), (8, 8))
    with pytest.raises(ValueError, match="crop_box"):
        restore_field_of_view(torch.ones(4, 4), (8, 8), crop_box=(0, 0, 9, 8))
    with pytest.raises(TypeError, match="fov_input"):
        restore_field_of_view([[1, 0]], (8, 8))


def test_overlay_draws_no_heat_outside_the_field_of_view(tmp_path):
    image = np.full((64, 96), 0.5, dtype=np.float32)
    image[0, 0] = 0.0  # min-max display: the grey shows as mid grey
    image[0, 1] = 1.0
    heatmap = np.ones((8, 12), dtype=np.float32)
    field_of_view = np.zeros((64, 96), dtype=bool)
    field_of_view[:, :48] = True
    path = write_overlay(image, heatmap, tmp_path / "o.png", alpha=1.0, colormap="gray", value_range=(0.0, 1.0),
                         field_of_view=field_of_view)
    with Image.open(path) as written:
        pixels = np.asarray(written.convert("RGB")).astype(int)
    assert pixels[10:, 2:46].min() > 250  # full heat inside
    assert np.abs(pixels[10:, 50:96] - 128).max() <= 2  # outside: the grey image alone (the colour bar follows)
    without = write_overlay(image, heatmap, tmp_path / "w.png", alpha=1.0, colormap="gray", value_range=(0.0, 1.0))
    with Image.open(without) as written:
        assert np.asarray(written.convert("RGB"))[10:, 50:96].min() > 250


def test_overlay_field_of_view_must_have_the_image_size(tmp_path):
    with pytest.raises(ValueError, match="field_of_view must have the image's shape"):
        write_overlay(np.zeros((16, 16)), np.ones((4, 4)), tmp_path / "o.png", field_of_view=np.ones((8, 8), bool))
