"""TranslatedCentreCropd: the crop's place in the original image, the translation range, bad sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Resized

from monai_weakloc.localize.geometry import input_points_to_original
from monai_weakloc.transforms import CROP_BOX_META_KEY, ORIGINAL_SIZE_META_KEY
from monai_weakloc.transforms.translated_crop import TranslatedCentreCropd


def original(height: int, width: int) -> MetaTensor:
    """A (1, H, W) image whose value at (y, x) is ``1000 y + x``, carrying its original size."""
    rows, columns = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    image = MetaTensor((1000 * rows + columns)[None].float())
    image.meta[ORIGINAL_SIZE_META_KEY] = np.array([height, width])
    return image


def test_the_centre_crop_of_a_downscaled_image_records_its_box_in_the_original():
    resized = Resized("image", spatial_size=(256, 256), mode="nearest")({"image": original(1024, 1024)})
    cropped = TranslatedCentreCropd("image", roi_size=224)(resized)["image"]
    assert cropped.shape == (1, 224, 224)
    np.testing.assert_array_equal(cropped.meta[CROP_BOX_META_KEY], [64, 64, 960, 960])
    # the crop's top-left pixel is the original's pixel at (64, 64), as the writer maps it back
    point = input_points_to_original(np.array([[0.5, 0.5]]), (224, 224), cropped.meta[CROP_BOX_META_KEY])
    assert float(cropped[0, 0, 0]) == 1000 * 64 + 64
    np.testing.assert_allclose(point, [[66.0, 66.0]])  # the centre of the 4 x 4 block that pixel stands for


def test_translations_stay_within_the_range_and_move_the_box_with_the_crop():
    crop = TranslatedCentreCropd("image", roi_size=(20, 20), max_translation=3)
    crop.set_random_state(seed=0)
    shifts = set()
    for _ in range(200):
        out = crop({"image": original(30, 30)})["image"]
        x0, y0, x1, y1 = out.meta[CROP_BOX_META_KEY]
        assert (x1 - x0, y1 - y0) == (20, 20)
        assert float(out[0, 0, 0]) == 1000 * y0 + x0
        shifts.add((int(y0) - 5, int(x0) - 5))
    assert shifts == {(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)}


def test_a_crop_after_an_earlier_crop_is_placed_in_the_original():
    image = original(100, 100)[:, 10:60, 20:70]
    image.meta[CROP_BOX_META_KEY] = np.array([20, 10, 70, 60])
    out = TranslatedCentreCropd("image", roi_size=30)({"image": image})["image"]
    np.testing.assert_array_equal(out.meta[CROP_BOX_META_KEY], [30, 20, 60, 50])


@pytest.mark.parametrize(
    ("size", "roi", "shift", "message"),
    [
        (100, 128, 0, r"the 100 x 100 px image is smaller than the 128 x 128 px crop"),
        (140, 128, 7, r"max_translation 7 exceeds the margin of 6 px"),
    ],
)
def test_bad_sizes_name_the_problem(size, roi, shift, message):
    with pytest.raises(ValueError, match=message):
        TranslatedCentreCropd("image", roi_size=roi, max_translation=shift)({"image": original(size, size)})


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="roi_size"):
        TranslatedCentreCropd("image", roi_size=0)
    with pytest.raises(ValueError, match="max_translation"):
        TranslatedCentreCropd("image", roi_size=8, max_translation=-1)
