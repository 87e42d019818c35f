"""FundusBorderCrop(d): the crop box of a disc survives noisy borders; boxes, meta and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import CropForeground

from monai_weakloc.transforms import CROP_BOX_META_KEY, FundusBorderCrop, FundusBorderCropd

HEIGHT, WIDTH = 48, 64
# disc centre (row 24, column 32), radius 20.5: rows 4..44 and columns 12..52 hold disc pixels
DISC_BOX = (12, 4, 53, 45)  # x0, y0, x1, y1, end exclusive


def disc_image() -> np.ndarray:
    """(3, 48, 64) float32 RGB disc on a black background."""
    rows, columns = np.mgrid[:HEIGHT, :WIDTH]
    disc = (rows - 24) ** 2 + (columns - 32) ** 2 < 20.5**2
    img = np.zeros((3, HEIGHT, WIDTH), np.float32)
    for channel, value in enumerate((200.0, 120.0, 60.0)):
        img[channel][disc] = value
    return img


def noisy_disc_image() -> np.ndarray:
    """The disc with a dirty border: salt pixels, two bright 3x3 specks and faint JPEG-like blocks."""
    img = disc_image()
    rng = np.random.default_rng(0)
    border = img.sum(axis=0) == 0
    salt = border & (rng.random((HEIGHT, WIDTH)) < 0.02)
    img[:, salt] = 255.0
    img[:, 0:3, 0:3] = 255.0  # survives the median filter, but holds < 10 % of its rows and columns
    img[:, 44:47, 58:61] = 255.0
    faint = np.kron(rng.integers(0, 15, (HEIGHT // 8, WIDTH // 8)), np.ones((8, 8)))  # below 10 % of the max
    img += np.where(border, faint, 0.0)[None].astype(np.float32)
    return img


def test_noisy_border_gives_the_disc_box_while_plain_foreground_crop_does_not() -> None:
    noisy = noisy_disc_image()
    cropped, box = FundusBorderCrop(min_line_fraction=0.1, return_box=True)(noisy)
    assert tuple(box) == DISC_BOX
    assert isinstance(cropped, np.ndarray)
    np.testing.assert_array_equal(cropped, noisy[:, 4:45, 12:53])
    # MONAI's default foreground rule keeps every noisy border pixel: the whole image
    _, start, end = CropForeground(return_coords=True)(noisy)
    assert (tuple(start), tuple(end)) == ((0, 0), (HEIGHT, WIDTH))


def test_clean_disc_with_defaults_and_absolute_threshold() -> None:
    img = disc_image()
    assert tuple(FundusBorderCrop().compute_box(img)) == DISC_BOX
    assert tuple(FundusBorderCrop(threshold=30.0, relative=False).compute_box(img)) == DISC_BOX
    # an absolute level above every pixel finds nothing
    with pytest.raises(ValueError, match="no row/column"):
        FundusBorderCrop(threshold=250.0, relative=False).compute_box(img)


def test_metatensor_keeps_meta_records_box_and_clips_margin() -> None:
    img = MetaTensor(torch.as_tensor(noisy_disc_image()), meta={"filename_or_obj": "eye.png"})
    cropped = FundusBorderCrop(min_line_fraction=0.1, margin=5)(img)
    assert isinstance(cropped, MetaTensor)
    assert cropped.meta["filename_or_obj"] == "eye.png"
    # margin 5 on (12, 4, 53, 45), clipped to the 64 x 48 image
    assert tuple(cropped.meta[CROP_BOX_META_KEY]) == (7, 0, 58, 48)
    assert tuple(cropped.shape) == (3, 48, 51)


def test_dict_version_crops_every_key_with_the_source_box() -> None:
    img = noisy_disc_image()
    mask = np.zeros((1, HEIGHT, WIDTH), np.uint8)
    mask[0, 24, 32] = 1  # the disc centre
    data = FundusBorderCropd(keys=["image", "mask"], min_line_fraction=0.1)({"image": img, "mask": mask, "id": "a"})
    assert tuple(data["image_crop_box"]) == DISC_BOX
    assert data["mask"].shape == (1, 41, 41)
    assert data["mask"][0, 24 - 4, 32 - 12] == 1  # a point maps back by adding (x0, y0)
    assert data["id"] == "a"


def test_dict_version_rejects_mask_of_another_size() -> None:
    crop = FundusBorderCropd(keys=["image", "mask"])
    with pytest.raises(ValueError, match="'mask' has spatial shape"):
        crop({"image": disc_image(), "mask": np.zeros((1, 10, 10))})


def test_black_image_raises_naming_the_file_or_keeps_the_whole_image() -> None:
    black = MetaTensor(torch.zeros(3, 16, 20), meta={"filename_or_obj": "black.jpeg"})
    with pytest.raises(ValueError, match="black.jpeg"):
        FundusBorderCrop()(black)
    kept, box = FundusBorderCrop(on_empty="keep", return_box=True)(black)
    assert tuple(box) == (0, 0, 20, 16)
    assert tuple(kept.shape) == (3, 16, 20)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 1.5}, "relative threshold"),
        ({"min_line_fraction": 1.0}, "min_line_fraction"),
        ({"margin": -1}, "margin"),
        ({"on_empty": "skip"}, "on_empty"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FundusBorderCrop(**kwargs)


def test_image_without_channel_axis_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"channel-first 2D \(C, H, W\), got shape \(48, 64\)"):
        FundusBorderCrop()(disc_image()[0])
