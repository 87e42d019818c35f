"""SubtractMeanImage(d) and compute_mean_image: values, resizing, .npy files, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from PIL import Image

from monai_weakloc.transforms import SubtractMeanImage, SubtractMeanImaged, compute_mean_image


def test_subtracts_per_channel_mean_of_same_size() -> None:
    mean = np.stack([np.full((4, 6), 10.0), np.full((4, 6), 20.0)]).astype(np.float32)
    img = np.full((2, 4, 6), 50.0, np.float32)
    img[1, 0, 0] = 0.0
    out = SubtractMeanImage(mean)(img)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out[0], 40.0)
    assert out[1, 0, 0] == -20.0 and out[1, 3, 5] == 30.0


def test_mean_of_other_size_is_resized_to_the_image() -> None:
    mean = np.array([[[1.0, 2.0], [3.0, 4.0]]], np.float32)  # (1, 2, 2), broadcast to every channel
    img = torch.zeros(3, 4, 4)
    out = SubtractMeanImage(mean, resize_mode="nearest")(img)
    expected = -np.kron(mean[0], np.ones((2, 2)))
    for channel in range(3):
        np.testing.assert_array_equal(out[channel].numpy(), expected)


def test_npy_path_and_dict_version_keep_meta(tmp_path: Path) -> None:
    np.save(tmp_path / "mean.npy", np.full((8, 12), 5.0, np.float32))  # (H, W) gains a channel
    img = MetaTensor(torch.full((1, 8, 12), 7.0), meta={"filename_or_obj": "a.png"})
    out = SubtractMeanImaged(keys="image", mean_image=tmp_path / "mean.npy")({"image": img})["image"]
    assert isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "a.png"
    torch.testing.assert_close(out.as_tensor(), torch.full((1, 8, 12), 2.0))


def test_bad_mean_files_and_channel_mismatch_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing.npy: mean image file does not exist"):
        SubtractMeanImage(tmp_path / "missing.npy")
    (tmp_path / "mean.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match=r"mean.txt: a mean image file must be a \.npy file"):
        SubtractMeanImage(tmp_path / "mean.txt")
    (tmp_path / "broken.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="broken.npy: cannot read"):
        SubtractMeanImage(tmp_path / "broken.npy")
    subtract = SubtractMeanImage(np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="'rgb.png' has 3 channels, the mean image has 2"):
        subtract(MetaTensor(torch.zeros(3, 4, 4), meta={"filename_or_obj": "rgb.png"}))


def test_compute_mean_image_of_arrays_and_records_with_files(tmp_path: Path) -> None:
    arrays = [np.full((1, 4, 6), value, np.float32) for value in (1.0, 2.0, 6.0)]
    np.testing.assert_array_equal(compute_mean_image(arrays), np.full((1, 4, 6), 3.0))
    records = []
    for index, value in enumerate((10, 20, 60)):
        path = tmp_path / f"img{index}.png"
        Image.fromarray(np.full((8, 12, 3), value, np.uint8)).save(path)
        records.append({"image": str(path), "label": index})
    mean = compute_mean_image(records, spatial_size=(4, 6))
    assert mean.dtype == np.float32 and mean.shape == (3, 4, 6)
    np.testing.assert_allclose(mean, 30.0, atol=1e-4)
    np.save(tmp_path / "mean.npy", mean)
    out = SubtractMeanImage(tmp_path / "mean.npy")(np.full((3, 8, 12), 30.0, np.float32))
    np.testing.assert_allclose(out, 0.0, atol=1e-4)


def test_compute_mean_image_rejects_mixed_sizes_and_bad_records(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(path)
    with pytest.raises(ValueError, match=r"image 1 \(.*big.png\) has shape \(3, 5, 5\)"):
        compute_mean_image([np.zeros((3, 4, 4)), path])
    with pytest.raises(ValueError, match="record 0 has no key 'image'"):
        compute_mean_image([{"img": path}])
    with pytest.raises(ValueError, match="no images"):
        compute_mean_image([])
