"""Per-image histogram stretch: the ``lower``/``upper`` percentiles map to the ends of an output range.

MONAI's ``ScaleIntensityRangePercentiles`` computes exactly this (linear percentiles, per channel or
over the whole image); :class:`PercentileStretch` builds on it and adds what a stretch needs: stretch
defaults (1st/99th percentile to [0, 1], clipped, per channel), checks that the percentiles and the
output range are ordered, and returns a numpy array for a numpy input.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, ScaleIntensityRangePercentiles
from monai.utils import convert_to_dst_type

__all__ = ["PercentileStretch", "PercentileStretchd"]


class PercentileStretch(ScaleIntensityRangePercentiles):
    """Stretch intensities so that percentile ``lower`` maps to ``out_min`` and ``upper`` to ``out_max``.

    ``out = (x - p_lower) / (p_upper - p_lower) * (out_max - out_min) + out_min``, clipped to
    ``[out_min, out_max]`` when ``clip``. A channel (or image) whose two percentiles coincide becomes
    ``out_min``.

    Args:
        lower: lower percentile, in [0, 100).
        upper: upper percentile, in (lower, 100].
        out_min: value the lower percentile maps to.
        out_max: value the upper percentile maps to (> ``out_min``).
        channel_wise: percentiles per channel (``True``) or over the whole image.
        clip: whether to clip to ``[out_min, out_max]``.

    Raises:
        ValueError: if the percentiles are outside [0, 100] or not increasing, or ``out_max <= out_min``.
    """

    def __init__(
        self,
        lower: float = 1.0,
        upper: float = 99.0,
        out_min: float = 0.0,
        out_max: float = 1.0,
        channel_wise: bool = True,
        clip: bool = True,
    ) -> None:
        if not 0.0 <= lower < upper <= 100.0:
            raise ValueError(f"PercentileStretch: need 0 <= lower < upper <= 100, got lower={lower}, upper={upper}")
        if out_max <= out_min:
            raise ValueError(f"PercentileStretch: need out_min < out_max, got out_min={out_min}, out_max={out_max}")
        super().__init__(
            lower=lower,
            upper=upper,
            b_min=out_min,
            b_max=out_max,
            clip=clip,
            channel_wise=channel_wise,
            dtype=np.float32,
        )

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Stretch ``img``.

        Args:
            img: channel-first image (C, H, W), numpy array or tensor.

        Returns:
            float32 image of the same shape and type; a ``MetaTensor`` keeps its meta.
        """
        stretched = super().__call__(img)
        if isinstance(img, np.ndarray):
            return convert_to_dst_type(stretched, dst=img, dtype=np.float32)[0]
        return stretched


class PercentileStretchd(MapTransform):
    """Dictionary version of :class:`PercentileStretch`.

    Args:
        keys: keys of the images to stretch.
        lower, upper, out_min, out_max, channel_wise, clip: as in :class:`PercentileStretch`.
        allow_missing_keys: don't raise if one of ``keys`` is missing.
    """

    backend = PercentileStretch.backend

    def __init__(
        self,
        keys: KeysCollection,
        lower: float = 1.0,
        upper: float = 99.0,
        out_min: float = 0.0,
        out_max: float = 1.0,
        channel_wise: bool = True,
        clip: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.stretch = PercentileStretch(
            lower=lower, upper=upper, out_min=out_min, out_max=out_max, channel_wise=channel_wise, clip=clip
        )

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.stretch(d[key])
        return d
