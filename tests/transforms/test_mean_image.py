"""SubtractMeanImage(d), compute_mean_image, save/load_mean_image: values, resizing, .npy/.pt files, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import Dataset, MetaTensor
from monai.transforms import ScaleIntensityd
from PIL import Image

from monai_weakloc.transforms import (
    SubtractMeanImage,
    SubtractMeanImaged,
    compute_mean_image,
    load_mean_image,
    save_mean_image,
)


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
    with pytest.raises(ValueError, match=r"mean.txt: a mean image file must be a \.npy or \.pt file"):
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
    assert isinstance(mean, torch.Tensor) and mean.dtype == torch.float32 and mean.shape == (3, 4, 6)
    np.testing.assert_allclose(mean, 30.0, atol=1e-4)
    save_mean_image(tmp_path / "mean.npy", mean)
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


def test_compute_mean_image_streams_a_dataset_of_mixed_sizes_resized_to_one():
    records = [
        {"image": torch.full((3, 8 * scale, 12 * scale), float(value))} for scale, value in ((1, 2), (2, 4), (3, 9))
    ]
    seen = []

    def one_at_a_time():
        for record in records:
            seen.append(len(seen))
            yield record

    mean = compute_mean_image(one_at_a_time(), spatial_size=(8, 12))
    assert seen == [0, 1, 2] and mean.shape == (3, 8, 12)
    torch.testing.assert_close(mean, torch.full((3, 8, 12), 5.0))
    torch.testing.assert_close(compute_mean_image(Dataset(records), spatial_size=(8, 12)), mean)


@pytest.mark.parametrize("suffix", [".npy", ".pt"])
def test_saved_mean_image_loads_back_equal_and_feeds_the_subtraction(tmp_path: Path, suffix: str) -> None:
    mean = torch.rand(3, 5, 7)
    path = save_mean_image(tmp_path / "model" / f"mean{suffix}", mean)
    assert path.is_file()
    torch.testing.assert_close(load_mean_image(path), mean)
    torch.testing.assert_close(load_mean_image(str(path)), mean)
    img = torch.rand(3, 5, 7)
    out = SubtractMeanImaged(keys="image", mean_image=path)({"image": img})["image"]
    torch.testing.assert_close(out, img - mean)


def test_bad_pt_files_and_mean_file_channel_mismatch_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing.pt: mean image file does not exist"):
        load_mean_image(tmp_path / "missing.pt")
    (tmp_path / "broken.pt").write_bytes(b"not torch")
    with pytest.raises(ValueError, match="broken.pt: cannot read the mean image"):
        load_mean_image(tmp_path / "broken.pt")
    torch.save({"mean": torch.zeros(3, 4, 4)}, tmp_path / "dict.pt")
    with pytest.raises(TypeError, match="dict.pt: the file must hold one tensor, got dict"):
        load_mean_image(tmp_path / "dict.pt")
    save_mean_image(tmp_path / "gray.pt", torch.zeros(2, 4, 4))
    subtract = SubtractMeanImage(tmp_path / "gray.pt")
    with pytest.raises(ValueError, match=r"'rgb.png' has 3 channels, the mean image .*gray.pt has 2"):
        subtract(MetaTensor(torch.zeros(3, 4, 4), meta={"filename_or_obj": "rgb.png"}))
    with pytest.raises(ValueError, match=r"mean.png: a mean image file must be a \.npy or \.pt file"):
        save_mean_image(tmp_path / "mean.png", torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match=r"mean.npy: the mean image must be \(C, H, W\) or \(H, W\)"):
        save_mean_image(tmp_path / "mean.npy", torch.zeros(1, 3, 4, 4))


def test_mean_subtraction_then_monai_scale_intensity_is_the_papers_histogram_stretch() -> None:
    preprocess = [SubtractMeanImaged(keys="image", mean_image=torch.full((3, 4, 4), 100.0)), ScaleIntensityd("image")]
    data = {"image": torch.linspace(50.0, 200.0, 48).reshape(3, 4, 4)}
    for transform in preprocess:
        data = transform(data)
    assert data["image"].min() == 0.0 and data["image"].max() == 1.0
    torch.testing.assert_close(data["image"].flatten(), torch.linspace(0.0, 1.0, 48))
    flat = {"image": torch.full((3, 4, 4), 100.0)}
    for transform in preprocess:
        flat = transform(flat)
    assert torch.count_nonzero(flat["image"]) == 0
