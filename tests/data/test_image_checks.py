"""check_images: every bad image file is named with its problem, or skipped and logged."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from monai_weakloc.data.image_checks import check_images
from monai_weakloc.data.records import ProblemLog


def fundus_like(height: int = 64, width: int = 80, seed: int = 0) -> np.ndarray:
    """A (H, W, 3) uint8 colour image with texture, so that its JPEG has a long compressed stream."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def save(path: Path, pixels: np.ndarray, mode: str | None = None, image_format: str | None = None) -> str:
    image = Image.fromarray(pixels)
    (image.convert(mode) if mode else image).save(path, format=image_format)
    return str(path)


@pytest.fixture
def good_jpeg(tmp_path: Path) -> str:
    return save(tmp_path / "good.jpeg", fundus_like())


def test_a_good_rgb_jpeg_passes(good_jpeg):
    records = [{"image": good_jpeg, "id": "good"}]
    assert check_images(records, min_size=64) == records


def test_a_missing_file_is_named(tmp_path):
    missing = tmp_path / "10_left.jpeg"
    with pytest.raises(ValueError, match=rf"^{re.escape(str(missing))}: image file does not exist$"):
        check_images([{"image": str(missing)}])


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.1], ids=["90%", "50%", "10%"])
def test_a_truncated_jpeg_is_corrupt(tmp_path, good_jpeg, keep):
    data = Path(good_jpeg).read_bytes()
    truncated = tmp_path / "cut.jpeg"
    truncated.write_bytes(data[: int(len(data) * keep)])
    message = rf"^{re.escape(str(truncated))}: corrupt or unreadable image \(OSError: .*runcated"
    with pytest.raises(ValueError, match=message):
        check_images([{"image": str(truncated)}])


def test_a_truncated_png_is_corrupt(tmp_path):
    data = Path(save(tmp_path / "good.png", fundus_like())).read_bytes()
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"^{re.escape(str(truncated))}: corrupt or unreadable image"):
        check_images([{"image": str(truncated)}])


def test_random_bytes_are_corrupt(tmp_path):
    noise = tmp_path / "noise.jpeg"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    message = rf"^{re.escape(str(noise))}: corrupt or unreadable image \(UnidentifiedImageError"
    with pytest.raises(ValueError, match=message):
        check_images([{"image": str(noise)}])


def test_a_grayscale_jpeg_where_rgb_is_expected(tmp_path):
    gray = save(tmp_path / "gray.jpeg", fundus_like(), mode="L")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(gray))}: grayscale image where RGB is expected$"):
        check_images([{"image": gray}], mode="rgb")
    assert check_images([{"image": gray}], mode="gray") == [{"image": gray}]


def test_an_rgba_image_under_a_jpeg_name_where_rgb_is_expected(tmp_path):
    rgba = save(tmp_path / "alpha.jpeg", fundus_like(), mode="RGBA", image_format="PNG")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(rgba))}: RGBA image where RGB is expected$"):
        check_images([{"image": rgba}], mode="rgb")
    assert check_images([{"image": rgba}], mode="any") == [{"image": rgba}]


def test_a_colour_image_where_grayscale_is_expected(good_jpeg):
    with pytest.raises(ValueError, match=rf"^{re.escape(str(good_jpeg))}: RGB image where grayscale is expected$"):
        check_images([{"image": good_jpeg}], mode="gray")


def test_a_grayscale_nifti_where_rgb_is_expected(tmp_path):
    path = tmp_path / "scan.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((40, 30), dtype=np.float32), np.eye(4)), str(path))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: grayscale image where RGB is expected$"):
        check_images([{"image": str(path)}], mode="rgb")


def test_an_image_smaller_than_the_network_input(good_jpeg):
    message = rf"^{re.escape(str(good_jpeg))}: image of 80 x 64 px is smaller than the 96 x 96 px the network needs$"
    with pytest.raises(ValueError, match=message):
        check_images([{"image": good_jpeg}], min_size=96)
    assert check_images([{"image": good_jpeg}], min_size=(64, 80)) == [{"image": good_jpeg}]
    with pytest.raises(ValueError, match="smaller than the 81 x 64 px"):
        check_images([{"image": good_jpeg}], min_size=(64, 81))


def test_raise_names_the_first_bad_record_in_order(tmp_path, good_jpeg):
    first_bad = save(tmp_path / "a_gray.jpeg", fundus_like(), mode="L")
    records = [{"image": good_jpeg}, {"image": str(tmp_path / "b_missing.jpeg")}, {"image": first_bad}]
    with pytest.raises(ValueError, match="b_missing.jpeg: image file does not exist"):
        check_images(records, num_threads=3)


def test_skip_keeps_the_good_records_and_logs_each_bad_file(tmp_path, good_jpeg, caplog):
    gray = save(tmp_path / "5_left.jpeg", fundus_like(), mode="L")
    records = [
        {"image": good_jpeg, "fellow": good_jpeg, "id": "good"},
        {"image": gray, "fellow": good_jpeg, "id": "5_left"},
        {"image": good_jpeg, "fellow": gray, "id": "5_right"},
        {"image": good_jpeg, "fellow": None, "id": "alone"},
    ]
    log = ProblemLog("skip")
    with caplog.at_level(logging.WARNING, logger="monai_weakloc.data.records"):
        kept = check_images(records, keys=("image", "fellow"), on_error="skip", problems=log)
    assert [record["id"] for record in kept] == ["good", "alone"]
    assert [str(problem) for problem in log.problems] == [
        f"{gray}: grayscale image where RGB is expected",
        f"{gray}: grayscale image where RGB is expected (the 'fellow' of 5_right)",
    ]
    assert f"skipped: {gray}: grayscale image where RGB is expected (the 'fellow' of 5_right)" in caplog.text


def test_bad_arguments_are_named(good_jpeg):
    with pytest.raises(ValueError, match="check_images: mode must be one of"):
        check_images([{"image": good_jpeg}], mode="colour")
    with pytest.raises(ValueError, match="check_images: num_threads must be at least 1, got 0"):
        check_images([{"image": good_jpeg}], num_threads=0)
