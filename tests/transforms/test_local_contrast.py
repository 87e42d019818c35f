"""FundusLocalContrast(d): Graham's alpha * x + beta * blur(x) + gamma, range, blur and edge rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from scipy.ndimage import gaussian_filter

from monai_weakloc.transforms import FundusLocalContrast, FundusLocalContrastd


@pytest.mark.parametrize(
    ("alpha", "beta", "gamma", "value", "expected"),
    [
        (4.0, -4.0, 128.0, 30.0, 128.0),  # the defaults: a flat image becomes mid-grey
        (2.0, -1.5, 10.0, 30.0, 25.0),  # 10 + (2 - 1.5) * 30
        (3.0, -1.0, 128.0, 100.0, 255.0),  # 128 + 2 * 100 = 328, clipped to 255
        (1.0, -3.0, 0.0, 50.0, 0.0),  # -100, clipped to 0
    ],
)
def test_constant_image_gives_gamma_plus_weight_sum_times_value(
    alpha: float, beta: float, gamma: float, value: float, expected: float
) -> None:
    flat = np.full((3, 40, 60), value, np.float32)
    out = FundusLocalContrast(alpha=alpha, beta=beta, gamma=gamma)(flat)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-3)  # edges included: no dark/bright frame


def test_matches_reference_gaussian_with_mirror_edges() -> None:
    img = np.random.default_rng(0).uniform(0, 255, (3, 50, 70)).astype(np.float32)
    sigma = 70 / 60  # default: width / 60
    blurred = np.stack([gaussian_filter(c.astype(np.float64), sigma, mode="mirror", truncate=4.0) for c in img])
    expected = np.clip(4 * img - 4 * blurred + 128, 0, 255)
    np.testing.assert_allclose(FundusLocalContrast()(img), expected, atol=2e-3)
    red = img[:1]
    red_blurred = gaussian_filter(red.astype(np.float64), (0, 3.0, 3.0), mode="mirror")
    expected_absolute = np.clip(4 * red - 4 * red_blurred + 128, 0, 255)
    np.testing.assert_allclose(FundusLocalContrast(sigma=3.0)(red), expected_absolute, atol=2e-3)


def test_unit_range_with_value_scale_equals_scaled_uint8_result() -> None:
    img = np.random.default_rng(1).integers(0, 256, (3, 32, 48)).astype(np.float32)
    uint8_range = FundusLocalContrast(sigma=2.0)(img)
    unit_range = FundusLocalContrast(sigma=2.0, value_scale=1 / 255)(img / 255)
    np.testing.assert_allclose(unit_range, uint8_range / 255, atol=1e-5)
    assert unit_range.max() <= 1.0


def test_metatensor_and_dict_keep_meta() -> None:
    img = MetaTensor(torch.full((1, 32, 32), 0.2), meta={"filename_or_obj": "eye.png"})
    out = FundusLocalContrastd(keys="image", value_scale=1 / 255)({"image": img})["image"]
    assert isinstance(out, MetaTensor)
    assert out.meta["filename_or_obj"] == "eye.png"
    torch.testing.assert_close(out.as_tensor(), torch.full((1, 32, 32), 128 / 255))


def test_too_small_image_for_sigma_names_the_file() -> None:
    img = MetaTensor(torch.zeros(1, 20, 30), meta={"filename_or_obj": "tiny.png"})
    with pytest.raises(ValueError, match="tiny.png.*too small"):
        FundusLocalContrast(sigma=10.0)(img)


@pytest.mark.parametrize("kwargs", [{"sigma": 0.0}, {"sigma_fraction": -0.1}, {"value_scale": 0.0}])
def test_non_positive_arguments_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        FundusLocalContrast(**kwargs)
