"""The field of view of an image: the retina disc of a fundus photograph, the body or breast of a radiograph.

A lesion cannot lie outside the field of view, so the preprocessing finds it once, on the image as loaded,
and stores it beside the image as a (1, H, W) float32 {0, 1} mask; the crop and resize transforms then
take it alongside the image (a nearest-neighbour resize keeps it {0, 1}), so a batch carries it in
network-input pixels and localizers and overlays can leave everything outside it alone.

The rule: the mean over channels, median-smoothed (removes salt noise), is thresholded; the largest
connected component is kept (bright specks and text labels in the border go) and its holes are filled
(dark lesions and vessels inside the retina, the dark lungs inside the body, stay in the field of view).
With the fundus defaults the threshold is the one of :class:`~monai_weakloc.transforms.FundusBorderCrop`,
so the mask lies inside the crop box that transform finds. MONAI's ``FillHoles`` fills the holes; MONAI's
``KeepLargestConnectedComponent`` needs scikit-image, which is not a dependency, so ``scipy.ndimage.label``
finds the components.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import FillHoles, MapTransform, MedianSmooth, Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor
from scipy import ndimage

from monai_weakloc.transforms.image_checks import check_channel_first_2d, image_source

__all__ = [
    "FIELD_OF_VIEW_KEY",
    "FOREGROUND_METHODS",
    "ForegroundFieldOfView",
    "ForegroundFieldOfViewd",
    "FundusFieldOfView",
    "FundusFieldOfViewd",
    "largest_filled_component",
    "otsu_level",
]

logger = logging.getLogger(__name__)

FIELD_OF_VIEW_KEY = "fov"
FOREGROUND_METHODS = ("relative", "absolute", "otsu")
ON_EMPTY_CHOICES = ("raise", "keep")
OTSU_BINS = 256


def otsu_level(intensity: torch.Tensor, bins: int = OTSU_BINS) -> float:
    """Otsu's threshold: the level that maximises the between-class variance of the intensity histogram.

    Args:
        intensity: intensities of any shape.
        bins: histogram bins between the minimum and the maximum.

    Returns:
        The level; pixels strictly above it are foreground. A constant image gives its value (no foreground).
    """
    values = intensity.detach().flatten().to(torch.float64).cpu().numpy()
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return high
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_below = np.cumsum(counts)[:-1]
    weight_above = values.size - weight_below
    sum_below = np.cumsum(counts * centres)[:-1]
    mean_below = sum_below / weight_below.clip(min=1)
    mean_above = (float((counts * centres).sum()) - sum_below) / weight_above.clip(min=1)
    between = weight_below * weight_above * (mean_below - mean_above) ** 2
    return float(edges[1 + int(np.argmax(between))])


def largest_filled_component(foreground: torch.Tensor) -> torch.Tensor:
    """The largest 8-connected component of a 2D foreground, with its holes filled.

    Args:
        foreground: (1, H, W) bool tensor.

    Returns:
        (1, H, W) bool tensor; all false when ``foreground`` is.
    """
    labels, count = ndimage.label(foreground[0].cpu().numpy(), structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return torch.zeros_like(foreground, dtype=torch.bool)
    sizes = np.bincount(labels.ravel())[1:]
    largest = torch.from_numpy(labels == 1 + int(np.argmax(sizes)))[None]
    return convert_to_tensor(FillHoles()(largest), dtype=torch.bool, track_meta=False)


class ForegroundFieldOfView(Transform):
    """The field of view of a channel-first 2D image: its largest bright region, holes filled.

    Foreground rule: the mean over channels, median-filtered with ``median_radius``, is above a level:

    - ``"relative"``: ``threshold`` times its maximum;
    - ``"absolute"``: ``threshold`` itself (an intensity);
    - ``"otsu"``: Otsu's threshold of its histogram (``threshold`` unused).

    Of that foreground the largest connected component is kept and its holes are filled. The relative
    rule is the default: on a chest radiograph Otsu's level can fall between the dark lungs and the body
    (lungs cut by the image edge are then no holes to fill), and on the synthetic mammograms it leaves out
    the faint tissue along the skin line (6-7 % of the breast, against under 1 % for the relative rule).
    For a mammogram the field of view is the breast with the pectoral muscle.

    Args:
        method: one of ``FOREGROUND_METHODS``.
        threshold: the level, a fraction in [0, 1) of the maximum for ``"relative"``, an intensity for
            ``"absolute"``.
        median_radius: radius of the median filter applied before thresholding (0 switches it off); the
            filter holds (2r+1)^2 copies of the image.
        on_empty: ``"raise"`` raises ``ValueError`` when no pixel is above the level; ``"keep"`` logs a
            warning and makes the whole image the field of view.

    Raises:
        ValueError: for out-of-range arguments.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        method: str = "relative",
        threshold: float = 0.1,
        median_radius: int = 1,
        on_empty: str = "raise",
    ) -> None:
        name = type(self).__name__
        if method not in FOREGROUND_METHODS:
            raise ValueError(f"{name}: method must be one of {FOREGROUND_METHODS}, got {method!r}")
        if method == "relative" and not 0.0 <= threshold < 1.0:
            raise ValueError(f"{name}: a relative threshold must be in [0, 1), got {threshold}")
        if median_radius < 0:
            raise ValueError(f"{name}: median_radius must be >= 0, got {median_radius}")
        if on_empty not in ON_EMPTY_CHOICES:
            raise ValueError(f"{name}: on_empty must be one of {ON_EMPTY_CHOICES}, got {on_empty!r}")
        self.method = method
        self.threshold = threshold
        self.median_radius = median_radius
        self.on_empty = on_empty

    def foreground(self, img: NdarrayOrTensor) -> torch.Tensor:
        """The pixels above the level, before the component and hole rules.

        Args:
            img: (C, H, W) image.

        Returns:
            (1, H, W) bool tensor.
        """
        intensity = convert_to_tensor(img, dtype=torch.float32, track_meta=False).mean(dim=0, keepdim=True)
        if self.median_radius > 0:
            intensity = convert_to_tensor(MedianSmooth(radius=self.median_radius)(intensity), track_meta=False)
        if self.method == "relative":
            level = self.threshold * float(intensity.max())
        elif self.method == "absolute":
            level = self.threshold
        else:
            level = otsu_level(intensity)
        return intensity > level

    def compute_mask(self, img: NdarrayOrTensor) -> torch.Tensor:
        """The field of view of ``img``.

        Args:
            img: (C, H, W) image.

        Returns:
            (1, H, W) bool tensor.

        Raises:
            TypeError, ValueError: if ``img`` is not a numeric (C, H, W) image; ``ValueError`` if it has no
                foreground and ``on_empty == "raise"``.
        """
        name = type(self).__name__
        check_channel_first_2d(img, name)
        mask = largest_filled_component(self.foreground(img))
        if not bool(mask.any()):
            message = f"{name}: {image_source(img)} has no pixel above the {self.method} threshold {self.threshold}"
            if self.on_empty == "raise":
                raise ValueError(message)
            logger.warning("%s; the whole image is the field of view", message)
            mask = torch.ones_like(mask)
        return mask

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Args:
            img: (C, H, W) image (numpy array, tensor or ``MetaTensor``).

        Returns:
            (1, H, W) float32 {0, 1} mask of the same type as ``img`` (a ``MetaTensor`` keeps the image's meta).
        """
        mask = self.compute_mask(img).to(torch.float32)
        return convert_to_dst_type(mask, dst=img, dtype=torch.float32)[0]


class FundusFieldOfView(ForegroundFieldOfView):
    """The retina disc of a colour fundus photograph, with the foreground rule of ``FundusBorderCrop``.

    The mean over channels, median-filtered, above ``threshold`` (relative to its maximum, or absolute);
    the largest component, holes filled, so dark haemorrhages and vessels inside the retina stay in it,
    while the black corners a square crop keeps around a disc touching the image edges are outside.

    Args:
        threshold: foreground level; a fraction in [0, 1) of the smoothed image's maximum when ``relative``.
        relative: whether ``threshold`` is relative to the maximum (``True``) or an absolute intensity.
        median_radius: radius of the median filter applied before thresholding (0 switches it off).
        on_empty: ``"raise"`` or ``"keep"``, as in :class:`ForegroundFieldOfView`.

    Raises:
        ValueError: for out-of-range arguments.
    """

    def __init__(
        self, threshold: float = 0.1, relative: bool = True, median_radius: int = 1, on_empty: str = "raise"
    ) -> None:
        super().__init__(
            method="relative" if relative else "absolute",
            threshold=threshold,
            median_radius=median_radius,
            on_empty=on_empty,
        )


class ForegroundFieldOfViewd(MapTransform):
    """Dictionary version of :class:`ForegroundFieldOfView`: the image's mask is stored under another key.

    Args:
        keys: the key of the (C, H, W) image (exactly one).
        field_of_view_key: where the (1, H, W) float32 {0, 1} mask is stored.
        method, threshold, median_radius, on_empty: as in :class:`ForegroundFieldOfView`.
        allow_missing_keys: don't raise if the image key is missing.

    Raises:
        ValueError: if ``keys`` names more than one image, or for out-of-range arguments.
    """

    backend = ForegroundFieldOfView.backend

    def __init__(
        self,
        keys: KeysCollection = "image",
        field_of_view_key: str = FIELD_OF_VIEW_KEY,
        method: str = "relative",
        threshold: float = 0.1,
        median_radius: int = 1,
        on_empty: str = "raise",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.field_of_view_key = field_of_view_key
        self.finder = ForegroundFieldOfView(method, threshold, median_radius, on_empty)
        _check_single_key(self)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        return _store_field_of_view(self, self.finder, data)


class FundusFieldOfViewd(MapTransform):
    """Dictionary version of :class:`FundusFieldOfView`: the image's disc mask is stored under another key.

    In a config it comes after loading and before ``FundusBorderCropd``, whose ``keys`` then list the
    image and ``field_of_view_key`` (``source_key`` the image), so that the mask is cropped with the image.

    Args:
        keys: the key of the (C, H, W) image (exactly one).
        field_of_view_key: where the (1, H, W) float32 {0, 1} mask is stored.
        threshold, relative, median_radius, on_empty: as in :class:`FundusFieldOfView`.
        allow_missing_keys: don't raise if the image key is missing.

    Raises:
        ValueError: if ``keys`` names more than one image, or for out-of-range arguments.
    """

    backend = FundusFieldOfView.backend

    def __init__(
        self,
        keys: KeysCollection = "image",
        field_of_view_key: str = FIELD_OF_VIEW_KEY,
        threshold: float = 0.1,
        relative: bool = True,
        median_radius: int = 1,
        on_empty: str = "raise",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.field_of_view_key = field_of_view_key
        self.finder = FundusFieldOfView(threshold, relative, median_radius, on_empty)
        _check_single_key(self)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        return _store_field_of_view(self, self.finder, data)


def _check_single_key(transform: MapTransform) -> None:
    """Raise ``ValueError`` unless a field-of-view dictionary transform names exactly one image key."""
    if len(transform.keys) != 1:
        raise ValueError(
            f"{type(transform).__name__}: keys must name one image (its mask goes to "
            f"{transform.field_of_view_key!r}), got {list(transform.keys)}"
        )


def _store_field_of_view(
    transform: MapTransform, finder: ForegroundFieldOfView, data: Mapping[Hashable, NdarrayOrTensor]
) -> dict[Hashable, NdarrayOrTensor]:
    """The data with the mask of its image stored under the transform's ``field_of_view_key``."""
    d = dict(data)
    for key in transform.key_iterator(d):
        d[transform.field_of_view_key] = finder(d[key])
    return d
