"""PercentileStretch(d): percentiles map to the output range, per channel or over the image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_weakloc.transforms import PercentileStretch, PercentileStretchd


def ramp_image() -> np.ndarray:
    """(2, 1, 101): channel 0 holds 0..100, channel 1 holds 10, 12, ..., 210."""
    ramp = np.arange(101, dtype=np.float32)[None]
    return np.stack([ramp, 2 * ramp + 10])


def test_per_channel_percentiles_map_to_output_range() -> None:
    out = PercentileStretch(lower=10, upper=90)(ramp_image())
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    # the 10th/90th percentiles of 0..100 are 10 and 90; of 10..210 they are 30 and 190
    for channel in (0, 1):
        np.testing.assert_allclose(out[channel, 0, [0, 10, 30, 50, 90, 100]], [0, 0, 0.25, 0.5, 1, 1], atol=1e-6)


def test_global_percentiles_pool_the_channels() -> None:
    img = ramp_image()
    low, high = np.percentile(img, [10, 90])
    out = PercentileStretch(lower=10, upper=90, out_min=-1, out_max=1, channel_wise=False, clip=False)(img)
    np.testing.assert_allclose(out, (img - low) / (high - low) * 2 - 1, atol=1e-5)
    assert out.min() < -1 and out.max() > 1  # not clipped


def test_tensor_and_dict_versions_keep_meta() -> None:
    img = MetaTensor(torch.as_tensor(ramp_image()), meta={"filename_or_obj": "cxr.png"})
    out = PercentileStretchd(keys="image", lower=0, upper=100, out_max=255)({"image": img})["image"]
    assert isinstance(out, MetaTensor)
    assert out.meta["filename_or_obj"] == "cxr.png"
    torch.testing.assert_close(out[0, 0, 50].item(), 127.5)


def test_constant_channel_becomes_out_min() -> None:
    img = np.stack([np.full((4, 4), 7.0), np.arange(16.0).reshape(4, 4)])
    with pytest.warns(Warning, match="Divide by zero"):
        out = PercentileStretch(lower=0, upper=100)(img)
    np.testing.assert_array_equal(out[0], 0.0)
    np.testing.assert_allclose(out[1], np.arange(16.0).reshape(4, 4) / 15, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lower": 60, "upper": 40}, "lower < upper"),
        ({"lower": -1}, "lower < upper"),
        ({"upper": 101}, "upper <= 100"),
        ({"out_min": 1, "out_max": 0}, "out_min < out_max"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PercentileStretch(**kwargs)
