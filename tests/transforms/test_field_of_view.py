"""Field-of-view transforms: the retina disc of fundus photographs, the body of radiographs, the breast of
mammograms; dark lesions inside stay in, border specks stay out; the mask follows the crop and resize."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Resized

from monai_weakloc.data.synthetic.chest import render_chest, sample_chest_anatomy
from monai_weakloc.data.synthetic.fundus import RetinaGeometry, render_fundus, sample_retina_geometry
from monai_weakloc.data.synthetic.mammogram import breast_tissue_mask, render_mammogram, sample_breast_geometry
from monai_weakloc.transforms import (
    FIELD_OF_VIEW_KEY,
    ForegroundFieldOfView,
    ForegroundFieldOfViewd,
    FundusBorderCrop,
    FundusBorderCropd,
    FundusFieldOfView,
    FundusFieldOfViewd,
)

HEIGHT, WIDTH = 120, 160


def wide_disc_fundus(seed: int = 0, counts: dict[str, int] | None = None) -> tuple[np.ndarray, RetinaGeometry]:
    """(3, 120, 160) float32 fundus whose retina (radius 1.25 x H / 2) is cut by the top and bottom edges.

    The border crop keeps the full height, so the crop's four corners are black border outside the retina.
    """
    rng = np.random.default_rng(seed)
    geometry = sample_retina_geometry(rng, WIDTH, HEIGHT, "right", radius_range=(1.25, 1.25))
    fundus = render_fundus(rng, geometry, counts or {"haemorrhage": 3, "microaneurysm": 4})
    return fundus.image.transpose(2, 0, 1).astype(np.float32), geometry


def retina_truth(geometry: RetinaGeometry) -> np.ndarray:
    """(H, W) bool: pixel centres inside the drawn retina disc."""
    rows, columns = np.mgrid[: geometry.height, : geometry.width]
    return np.hypot(columns + 0.5 - geometry.centre_x, rows + 0.5 - geometry.centre_y) < geometry.radius


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fundus_mask_is_the_retina_disc_and_excludes_the_corners_the_crop_keeps(seed):
    image, geometry = wide_disc_fundus(seed)
    mask = FundusFieldOfView()(image)
    assert mask.shape == (1, HEIGHT, WIDTH) and mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, 1.0}
    inside = mask[0] > 0.5
    assert (inside == retina_truth(geometry)).mean() > 0.98
    x0, y0, x1, y1 = FundusBorderCrop().compute_box(image)
    assert (y0, y1) == (0, HEIGHT)  # the crop keeps the full height ...
    for row, column in ((y0, x0), (y0, x1 - 1), (y1 - 1, x0), (y1 - 1, x1 - 1)):
        assert not inside[row, column]  # ... and its black corners, which lie outside the field of view


def test_dark_lesions_inside_the_disc_stay_in_the_field_of_view():
    image, geometry = wide_disc_fundus(0)
    rows, columns = np.mgrid[:HEIGHT, :WIDTH]
    blots = np.zeros((HEIGHT, WIDTH), dtype=bool)
    for dx, dy in ((-30, -10), (20, 15), (0, 30)):
        blots |= np.hypot(columns - geometry.centre_x - dx, rows - geometry.centre_y - dy) < 6
    image[:, blots] = 0.0  # black haemorrhages, darker than the threshold
    transform = FundusFieldOfView()
    assert not transform.foreground(image)[0][blots].any()  # the bare threshold leaves holes there
    assert (transform(image)[0][blots] == 1.0).all()


def test_bright_specks_in_the_border_are_not_the_field_of_view():
    image, geometry = wide_disc_fundus(0)
    image[:, 0:4, 0:4] = 255.0  # a bright label in the corner, beyond the median filter's reach
    image[:, HEIGHT - 4 :, WIDTH - 4 :] = 255.0
    inside = FundusFieldOfView()(image)[0] > 0.5
    assert not inside[:4, :4].any() and not inside[-4:, -4:].any()
    assert (inside == retina_truth(geometry)).mean() > 0.98


def test_dict_version_stores_the_mask_and_the_crop_and_nearest_resize_keep_it_aligned():
    image, geometry = wide_disc_fundus(0)
    meta_image = MetaTensor(torch.as_tensor(image), meta={"filename_or_obj": "eye.png"})
    pipeline = Compose(
        [
            FundusFieldOfViewd(keys="image"),
            FundusBorderCropd(keys=["image", FIELD_OF_VIEW_KEY], source_key="image"),
            Resized(keys=FIELD_OF_VIEW_KEY, spatial_size=(64, 64), mode="nearest-exact"),
        ]
    )
    data = pipeline({"image": meta_image, "id": "eye"})
    fov = data[FIELD_OF_VIEW_KEY]
    assert fov.shape == (1, 64, 64) and fov.dtype == torch.float32
    assert set(torch.unique(fov).tolist()) == {0.0, 1.0}
    x0, y0, x1, y1 = data["image_crop_box"]
    truth = torch.as_tensor(retina_truth(geometry)[y0:y1, x0:x1], dtype=torch.float32)[None, None]
    expected = torch.nn.functional.interpolate(truth, size=(64, 64), mode="nearest-exact")[0]
    assert (fov == expected).float().mean() > 0.97
    assert fov[0, 0, 0] == 0 and fov[0, 32, 32] == 1


def test_chest_radiograph_field_of_view_is_the_body_with_its_dark_lungs():
    rng = np.random.default_rng(3)
    anatomy = sample_chest_anatomy(rng, 128, 128)
    image = render_chest(rng, anatomy, []).image[None].astype(np.float32)
    inside = ForegroundFieldOfView()(image)[0] > 0.5
    for lung in anatomy.lungs:
        assert inside[int(lung.centre_y), int(lung.centre_x)]
    assert not inside[0, 0] and not inside[-1, 0] and not inside[0, -1] and not inside[-1, -1]  # air


@pytest.mark.parametrize("method", ["relative", "otsu"])
def test_mammogram_field_of_view_is_the_breast_without_the_label_in_the_background(method):
    rng = np.random.default_rng(4)
    geometry = sample_breast_geometry(rng, 128, "left")
    image = render_mammogram(rng, geometry, "F", None)[None].astype(np.float32)
    image[:, 110:118, 110:122] = 255.0  # a bright film label in the background
    data = ForegroundFieldOfViewd(keys="image", method=method)({"image": image})
    inside = data[FIELD_OF_VIEW_KEY][0] > 0.5
    tissue = breast_tissue_mask(geometry)
    assert inside[tissue].mean() > 0.9
    assert not inside[110:118, 110:122].any()
    assert not inside[:, -10:].any()  # the background opposite the chest wall


def test_black_image_raises_naming_the_file_or_keeps_the_whole_image():
    black = MetaTensor(torch.zeros(3, 20, 30), meta={"filename_or_obj": "black.png"})
    with pytest.raises(ValueError, match="black.png"):
        FundusFieldOfView()(black)
    assert bool((FundusFieldOfView(on_empty="keep")(black) == 1).all())


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="method"):
        ForegroundFieldOfView(method="mean")
    with pytest.raises(ValueError, match="relative threshold"):
        FundusFieldOfView(threshold=1.5)
    with pytest.raises(ValueError, match="one image"):
        FundusFieldOfViewd(keys=["image", "fellow"])
    with pytest.raises(ValueError, match="channel-first"):
        FundusFieldOfView()(np.zeros((20, 30), np.float32))
