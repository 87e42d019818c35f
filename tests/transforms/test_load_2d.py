"""LoadImage2D(d): every format gives (C, 20, 30) with the marked top-left pixel at [.., 0, 0]."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from PIL import Image

from dicom_files import write_dicom
from monai_weakloc.transforms import LoadImage2D, LoadImage2Dd

HEIGHT, WIDTH = 20, 30
BACKGROUND, MARK, CORNER = 40, 250, 100  # CORNER marks the bottom-right pixel
RGB_MARK = (250, 125, 60)


def gray_array() -> np.ndarray:
    """(20, 30) uint8: 40 everywhere, 250 at the top-left pixel, 100 at the bottom-right one."""
    img = np.full((HEIGHT, WIDTH), BACKGROUND, np.uint8)
    img[0, 0] = MARK
    img[-1, -1] = CORNER
    return img


def rgb_array() -> np.ndarray:
    """(20, 30, 3) uint8 with the coloured mark (250, 125, 60) at the top-left pixel."""
    img = np.repeat(gray_array()[..., None], 3, axis=2)
    img[0, 0] = RGB_MARK
    return img


def write_gray_png(path: Path) -> None:
    Image.fromarray(gray_array()).save(path)


def write_rgb_png(path: Path) -> None:
    Image.fromarray(rgb_array()).save(path)


def write_rgba_png(path: Path) -> None:
    alpha = np.full((HEIGHT, WIDTH, 1), 255, np.uint8)
    Image.fromarray(np.concatenate([rgb_array(), alpha], axis=2)).save(path)


def write_palette_png(path: Path) -> None:
    Image.fromarray(rgb_array()).convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(path)


def write_jpeg(path: Path) -> None:
    Image.fromarray(rgb_array()).save(path, quality=100, subsampling=0)


def write_tiff(path: Path) -> None:
    Image.fromarray(gray_array()).save(path)


def write_pgm(path: Path) -> None:
    Image.fromarray(gray_array()).save(path)


def write_nifti_like_itk(path: Path) -> None:
    """What ``itk.imwrite(itk.GetImageFromArray(array), path)`` writes: x-major data, LPS affine."""
    nib.save(nib.Nifti1Image(gray_array().T.copy(), np.diag([-1.0, -1.0, 1.0, 1.0])), path)


def write_nifti_identity_affine(path: Path) -> None:
    nib.save(nib.Nifti1Image(gray_array().T.copy(), np.eye(4)), path)


def write_dicom_monochrome2(path: Path) -> None:
    write_dicom(path, gray_array())


def write_dicom_monochrome1(path: Path) -> None:
    write_dicom(path, 255 - gray_array(), photometric="MONOCHROME1")  # a viewer shows it as gray_array()


# file name, writer, channels in the file, whether the file holds the coloured mark, pixel tolerance
FORMATS = [
    ("gray.png", write_gray_png, 1, False, 0),
    ("rgb.png", write_rgb_png, 3, True, 0),
    ("rgba.png", write_rgba_png, 4, True, 0),
    ("palette.png", write_palette_png, 3, True, 0),
    ("rgb.jpg", write_jpeg, 3, True, 6),
    ("gray.tif", write_tiff, 1, False, 0),
    ("gray.pgm", write_pgm, 1, False, 0),
    ("itk.nii.gz", write_nifti_like_itk, 1, False, 0),
    ("identity.nii", write_nifti_identity_affine, 1, False, 0),
    ("mono2.dcm", write_dicom_monochrome2, 1, False, 0),
    ("mono1.dcm", write_dicom_monochrome1, 1, False, 0),
]


@pytest.fixture(scope="module")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int, bool, float]]:
    folder = tmp_path_factory.mktemp("formats")
    files = {}
    for name, write, channels, coloured, tolerance in FORMATS:
        write(folder / name)
        files[name] = (folder / name, channels, coloured, tolerance)
    return files


@pytest.mark.parametrize("name", [fmt[0] for fmt in FORMATS])
@pytest.mark.parametrize("mode", ["rgb", "gray", "keep"])
def test_every_format_loads_rows_first_with_the_mark_top_left(image_files: dict, name: str, mode: str) -> None:
    path, channels, coloured, tolerance = image_files[name]
    img = LoadImage2D(mode=mode)(path)
    expected_channels = {"rgb": 3, "gray": 1, "keep": channels}[mode]
    assert isinstance(img, MetaTensor) and img.dtype == torch.float32
    assert tuple(img.shape) == (expected_channels, HEIGHT, WIDTH)
    mark = np.array(RGB_MARK if coloured else (MARK,) * 3, np.float64)
    if mode == "gray":
        expected_mark = [mark @ (0.299, 0.587, 0.114)]
    elif mode == "rgb" or channels >= 3:
        expected_mark = list(mark) + [255.0] * (channels == 4 and mode == "keep")
    else:
        expected_mark = [MARK]
    np.testing.assert_allclose(img[:, 0, 0].numpy(), expected_mark, atol=tolerance + 1e-3)
    np.testing.assert_allclose(img[0, -1, -1].item(), CORNER, atol=tolerance + 1e-3)
    np.testing.assert_allclose(img[0, 5, 5].item(), BACKGROUND, atol=tolerance + 1e-3)
    assert tuple(img.meta["original_size"]) == (HEIGHT, WIDTH)
    assert img.meta["original_channels"] == channels
    assert Path(img.meta["filename_or_obj"]) == path


def test_dict_version_loads_image_and_mask_with_their_own_modes(image_files: dict) -> None:
    data = {"image": str(image_files["rgba.png"][0]), "mask": image_files["gray.png"][0], "label": 2}
    loaded = LoadImage2Dd(keys=["image", "mask"], mode=("rgb", "gray"))(data)
    assert tuple(loaded["image"].shape) == (3, HEIGHT, WIDTH)
    assert tuple(loaded["mask"].shape) == (1, HEIGHT, WIDTH)
    assert loaded["label"] == 2
    with pytest.raises(ValueError, match="2 modes for 3 keys"):
        LoadImage2Dd(keys=["a", "b", "c"], mode=("rgb", "gray"))


def test_missing_unreadable_and_unsupported_files_are_named(tmp_path: Path) -> None:
    load = LoadImage2D()
    with pytest.raises(ValueError, match="missing.png: image file does not exist"):
        load(tmp_path / "missing.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png: cannot read the image"):
        load(tmp_path / "broken.png")
    (tmp_path / "broken.dcm").write_bytes(b"not a dicom file")
    with pytest.raises(ValueError, match="broken.dcm: cannot read the image"):
        load(tmp_path / "broken.dcm")
    (tmp_path / "anim.gif").write_bytes(b"GIF89a")
    with pytest.raises(ValueError, match=r"anim.gif: unsupported image file type '.gif'"):
        load(tmp_path / "anim.gif")
    with pytest.raises(ValueError, match="mode must be one of"):
        LoadImage2D(mode="rgba")


def test_three_dimensional_nifti_is_rejected(tmp_path: Path) -> None:
    nib.save(nib.Nifti1Image(np.zeros((30, 20, 4), np.float32), np.eye(4)), tmp_path / "volume.nii.gz")
    with pytest.raises(ValueError, match=r"volume.nii.gz: not a 2D NIfTI image"):
        LoadImage2D()(tmp_path / "volume.nii.gz")


def test_nifti_affine_follows_the_transpose(image_files: dict) -> None:
    path = image_files["itk.nii.gz"][0]
    img = LoadImage2D(mode="keep")(path)
    row, column = 3, 7
    world_loaded = img.affine.numpy() @ np.array([row, column, 0.0, 1.0])
    world_file = nib.load(path).affine @ np.array([column, row, 0.0, 1.0])  # the file is indexed (x, y)
    np.testing.assert_allclose(world_loaded, world_file)
