"""Local-contrast enhancement of fundus photographs (B. Graham's Kaggle EyePACS preprocessing).

``alpha * image + beta * GaussianBlur(image, sigma) + gamma``, clipped to the valid range: subtracting
the local average evens out illumination and makes lesions and vessels stand out.

MONAI's ``GaussianSmooth`` pads with zeros, which darkens a band of width ~4 sigma along the image
edges; with ``beta = -4`` that band becomes a bright frame. This module therefore blurs with MONAI's
``gaussian_1d`` kernel (sampled, normalised, truncated at 4 sigma) through ``separable_filtering`` in
``reflect`` mode: the kernel and border rule of OpenCV's ``GaussianBlur`` that the original
preprocessing used (equal to ``scipy.ndimage.gaussian_filter(mode="mirror")``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.networks.layers import gaussian_1d, separable_filtering
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor

from monai_weakloc.transforms.image_checks import check_channel_first_2d, image_source

__all__ = ["FundusLocalContrast", "FundusLocalContrastd"]

UINT8_RANGE_MAX = 255.0
GAUSSIAN_TRUNCATION = 4.0


class FundusLocalContrast(Transform):
    """Local-contrast enhancement ``clip(alpha * x + beta * blur(x) + gamma * value_scale, 0, 255 * value_scale)``.

    Range convention: ``alpha``, ``beta``, ``gamma`` are those of the uint8 recipe (intensities in
    [0, 255], mid-grey ``gamma = 128``). For images in another range set ``value_scale`` to that range's
    maximum divided by 255 (``1 / 255`` for [0, 1] images): ``gamma`` and the clipping range are scaled
    by it, so the same defaults work.

    Blur width: ``sigma`` in pixels when given, else ``sigma_fraction * W`` (W: image width). Graham's
    recipe blurs with sigma = eye radius / 30, i.e. width / 60 for a border-cropped fundus image (see
    :class:`~monai_weakloc.transforms.border_crop.FundusBorderCrop`), hence the default ``1 / 60``.

    Args:
        alpha: weight of the image.
        beta: weight of the blurred image.
        gamma: offset, in the uint8 range.
        sigma: absolute Gaussian sigma in pixels; overrides ``sigma_fraction``.
        sigma_fraction: sigma as a fraction of the image width, used when ``sigma`` is ``None``.
        value_scale: maximum of the image's intensity range divided by 255.
        clip: whether to clip the result to ``[0, 255 * value_scale]``.

    Raises:
        ValueError: for a non-positive sigma, sigma fraction or value scale.
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        alpha: float = 4.0,
        beta: float = -4.0,
        gamma: float = 128.0,
        sigma: float | None = None,
        sigma_fraction: float = 1.0 / 60.0,
        value_scale: float = 1.0,
        clip: bool = True,
    ) -> None:
        if sigma is not None and sigma <= 0:
            raise ValueError(f"FundusLocalContrast: sigma must be positive, got {sigma}")
        if sigma_fraction <= 0:
            raise ValueError(f"FundusLocalContrast: sigma_fraction must be positive, got {sigma_fraction}")
        if value_scale <= 0:
            raise ValueError(f"FundusLocalContrast: value_scale must be positive, got {value_scale}")
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma
        self.sigma = sigma
        self.sigma_fraction = sigma_fraction
        self.value_scale = value_scale
        self.clip = clip

    def gaussian_kernel(self, width: int) -> torch.Tensor:
        """The normalised 1D Gaussian kernel for an image ``width`` pixels wide.

        Args:
            width: image width W in pixels (sets sigma when ``sigma`` is ``None``).

        Returns:
            (2 * radius + 1,) float tensor summing to 1 (so a constant image blurs to itself), radius = 4 sigma.
        """
        sigma = self.sigma if self.sigma is not None else self.sigma_fraction * width
        return gaussian_1d(torch.tensor(sigma), truncated=GAUSSIAN_TRUNCATION, approx="sampled", normalize=True)

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Enhance ``img``.

        Args:
            img: (C, H, W) image, numpy array or tensor.

        Returns:
            (C, H, W) float32 image of the input's type; a ``MetaTensor`` keeps its meta.

        Raises:
            ValueError: if ``img`` is not (C, H, W), or the blur radius (4 sigma) is not smaller than its
                height and width (reflection padding needs that).
        """
        check_channel_first_2d(img, "FundusLocalContrast")
        height, width = img.shape[1:]
        kernel = self.gaussian_kernel(width)
        radius = (kernel.shape[0] - 1) // 2
        if radius >= min(height, width):
            raise ValueError(
                f"FundusLocalContrast: {image_source(img)} of size {height} x {width} is too small for a blur "
                f"of radius {radius} px (4 sigma); use a smaller sigma or a larger image"
            )
        img_t = convert_to_tensor(img, dtype=torch.float32, track_meta=False)
        blurred = separable_filtering(img_t[None], kernel, mode="reflect")[0]
        enhanced = self.alpha * img_t + self.beta * blurred + self.gamma * self.value_scale
        if self.clip:
            enhanced = enhanced.clamp(0.0, UINT8_RANGE_MAX * self.value_scale)
        return convert_to_dst_type(enhanced, dst=img, dtype=torch.float32)[0]


class FundusLocalContrastd(MapTransform):
    """Dictionary version of :class:`FundusLocalContrast`.

    Args:
        keys: keys of the (C, H, W) images to enhance.
        alpha, beta, gamma, sigma, sigma_fraction, value_scale, clip: as in :class:`FundusLocalContrast`.
        allow_missing_keys: don't raise if one of ``keys`` is missing.
    """

    backend = FundusLocalContrast.backend

    def __init__(
        self,
        keys: KeysCollection,
        alpha: float = 4.0,
        beta: float = -4.0,
        gamma: float = 128.0,
        sigma: float | None = None,
        sigma_fraction: float = 1.0 / 60.0,
        value_scale: float = 1.0,
        clip: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.enhance = FundusLocalContrast(
            alpha=alpha,
            beta=beta,
            gamma=gamma,
            sigma=sigma,
            sigma_fraction=sigma_fraction,
            value_scale=value_scale,
            clip=clip,
        )

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.enhance(d[key])
        return d
