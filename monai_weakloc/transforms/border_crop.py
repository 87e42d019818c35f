"""Crop the black border around a fundus photograph, robust to noise in the border.

MONAI's ``CropForeground`` does the cropping (and records the crop in a ``MetaTensor``'s applied
operations); what it lacks is a foreground rule that ignores salt noise and JPEG artefacts in the
border, which is what :class:`FundusBorderCrop` adds as its ``select_fn``.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor, get_track_meta
from monai.transforms import CropForeground, MapTransform, MedianSmooth, Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor

from monai_weakloc.transforms.image_checks import check_channel_first_2d, image_source

__all__ = ["FundusBorderCrop", "FundusBorderCropd", "CROP_BOX_META_KEY"]

logger = logging.getLogger(__name__)

CROP_BOX_META_KEY = "crop_box"
ON_EMPTY_CHOICES = ("raise", "keep")


class FundusBorderCrop(Transform):
    """Crop a channel-first 2D image to the box of its bright content (the fundus disc).

    Foreground rule: the mean over channels, median-filtered with ``median_radius`` (removes salt
    noise), is thresholded at ``threshold`` (a fraction of its maximum when ``relative``, otherwise an
    absolute level). A row (column) is kept when more than ``min_line_fraction`` of its pixels are
    foreground, so isolated bright specks and faint JPEG block artefacts in the border do not widen the
    box. The box spans the first to the last kept row and column, enlarged by ``margin`` pixels and
    clipped to the image.

    The box is ``(x0, y0, x1, y1)`` in pixels of the input image (x: column, y: row, end exclusive), so a
    point ``(x, y)`` of the cropped image is ``(x + x0, y + y0)`` in the input. A ``MetaTensor`` result
    carries it in ``meta["crop_box"]``.

    Args:
        threshold: foreground level; a fraction of the smoothed image's maximum when ``relative``.
        relative: whether ``threshold`` is relative to the maximum (``True``) or an absolute intensity.
        min_line_fraction: a row/column is content when its foreground fraction exceeds this, in [0, 1).
        median_radius: radius of the median filter applied before thresholding (0 switches it off).
            The filter holds (2r+1)^2 copies of the image, so crop large photographs after downsizing
            them or keep the radius small.
        margin: pixels added on every side of the box (clipped to the image).
        on_empty: ``"raise"`` raises ``ValueError`` when no content is found; ``"keep"`` logs a warning
            and returns the whole image.
        return_box: whether ``__call__`` returns ``(cropped, box)`` instead of ``cropped``.

    Raises:
        ValueError: for out-of-range arguments.
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        threshold: float = 0.1,
        relative: bool = True,
        min_line_fraction: float = 0.02,
        median_radius: int = 1,
        margin: int = 0,
        on_empty: str = "raise",
        return_box: bool = False,
    ) -> None:
        if relative and not 0.0 <= threshold < 1.0:
            raise ValueError(f"FundusBorderCrop: a relative threshold must be in [0, 1), got {threshold}")
        if not 0.0 <= min_line_fraction < 1.0:
            raise ValueError(f"FundusBorderCrop: min_line_fraction must be in [0, 1), got {min_line_fraction}")
        if median_radius < 0:
            raise ValueError(f"FundusBorderCrop: median_radius must be >= 0, got {median_radius}")
        if margin < 0:
            raise ValueError(f"FundusBorderCrop: margin must be >= 0, got {margin}")
        if on_empty not in ON_EMPTY_CHOICES:
            raise ValueError(f"FundusBorderCrop: on_empty must be one of {ON_EMPTY_CHOICES}, got {on_empty!r}")
        self.threshold = threshold
        self.relative = relative
        self.min_line_fraction = min_line_fraction
        self.median_radius = median_radius
        self.on_empty = on_empty
        self.return_box = return_box
        self.cropper = CropForeground(select_fn=self.select_content_lines, margin=margin, allow_smaller=True)

    def select_content_lines(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Mark the pixels lying on both a content row and a content column.

        Args:
            img: (C, H, W) image.

        Returns:
            (1, H, W) bool tensor, true where the row and the column both hold content.
        """
        intensity = convert_to_tensor(img, dtype=torch.float32, track_meta=False).mean(dim=0, keepdim=True)
        if self.median_radius > 0:
            intensity = MedianSmooth(radius=self.median_radius)(intensity)
        level = self.threshold * float(intensity.max()) if self.relative else self.threshold
        foreground = (intensity > level).to(torch.float32)
        rows = foreground.mean(dim=2) > self.min_line_fraction  # (1, H)
        columns = foreground.mean(dim=1) > self.min_line_fraction  # (1, W)
        return rows[:, :, None] & columns[:, None, :]

    def compute_box(self, img: NdarrayOrTensor) -> np.ndarray:
        """Find the crop box of ``img``.

        Args:
            img: (C, H, W) image.

        Returns:
            int64 array ``(x0, y0, x1, y1)`` in pixels of ``img``, end exclusive.

        Raises:
            ValueError: if ``img`` is not (C, H, W), or holds no content and ``on_empty == "raise"``.
        """
        check_channel_first_2d(img, "FundusBorderCrop")
        box_start, box_end = self.cropper.compute_bounding_box(img)
        if np.any(box_end <= box_start):
            height, width = img.shape[1:]
            message = (
                f"FundusBorderCrop: {image_source(img)} has no row/column with more than "
                f"{self.min_line_fraction:.0%} of its pixels above the threshold {self.threshold} "
                f"({'relative to the maximum' if self.relative else 'absolute'})"
            )
            if self.on_empty == "raise":
                raise ValueError(message)
            logger.warning("%s; keeping the whole image", message)
            return np.array([0, 0, width, height], dtype=np.int64)
        return np.array([box_start[1], box_start[0], box_end[1], box_end[0]], dtype=np.int64)

    def crop(self, img: NdarrayOrTensor, box: Sequence[int]) -> NdarrayOrTensor:
        """Crop ``img`` to ``box``.

        Args:
            img: (C, H, W) image (numpy array, tensor or ``MetaTensor``).
            box: ``(x0, y0, x1, y1)`` in pixels of ``img``, end exclusive.

        Returns:
            (C, y1 - y0, x1 - x0) image of the same type as ``img``; a ``MetaTensor`` keeps its meta, gains
            ``meta["crop_box"]`` and records the crop in its applied operations.
        """
        x0, y0, x1, y1 = (int(v) for v in box)
        img_t = convert_to_tensor(img, track_meta=get_track_meta())
        cropped = self.cropper.crop_pad(img_t, np.array([y0, x0]), np.array([y1, x1]))
        if isinstance(cropped, MetaTensor):
            cropped.meta[CROP_BOX_META_KEY] = np.array([x0, y0, x1, y1], dtype=np.int64)
        return convert_to_dst_type(cropped, dst=img)[0] if isinstance(img, np.ndarray) else cropped

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor | tuple[NdarrayOrTensor, np.ndarray]:
        """Crop the border of ``img``.

        Args:
            img: (C, H, W) image.

        Returns:
            the cropped (C, H', W') image, or ``(cropped, box)`` when ``return_box``.
        """
        box = self.compute_box(img)
        cropped = self.crop(img, box)
        return (cropped, box) if self.return_box else cropped


class FundusBorderCropd(MapTransform):
    """Dictionary version of :class:`FundusBorderCrop`: one box, found on ``source_key``, crops every key.

    Args:
        keys: keys of the (C, H, W) images to crop (an image and its masks, say).
        source_key: key of the image the box is found on; defaults to the first of ``keys``.
        box_key_postfix: the box ``(x0, y0, x1, y1)`` (int64 array, pixels of the source image) is stored
            under ``"<source_key>_<box_key_postfix>"``; ``None`` stores no box.
        threshold, relative, min_line_fraction, median_radius, margin, on_empty: as in
            :class:`FundusBorderCrop`.
        allow_missing_keys: don't raise if one of ``keys`` is missing.

    Raises:
        ValueError: if an image's spatial shape differs from the source image's.
    """

    backend = FundusBorderCrop.backend

    def __init__(
        self,
        keys: KeysCollection,
        source_key: str | None = None,
        box_key_postfix: str | None = "crop_box",
        threshold: float = 0.1,
        relative: bool = True,
        min_line_fraction: float = 0.02,
        median_radius: int = 1,
        margin: int = 0,
        on_empty: str = "raise",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.source_key = self.keys[0] if source_key is None else source_key
        self.box_key = None if box_key_postfix is None else f"{self.source_key}_{box_key_postfix}"
        self.border_crop = FundusBorderCrop(
            threshold=threshold,
            relative=relative,
            min_line_fraction=min_line_fraction,
            median_radius=median_radius,
            margin=margin,
            on_empty=on_empty,
        )

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        if self.source_key not in d:
            raise ValueError(f"FundusBorderCropd: source key {self.source_key!r} is not in the data")
        source = d[self.source_key]
        box = self.border_crop.compute_box(source)
        for key in self.key_iterator(d):
            check_channel_first_2d(d[key], f"FundusBorderCropd (key {key!r})")
            if tuple(d[key].shape[1:]) != tuple(source.shape[1:]):
                raise ValueError(
                    f"FundusBorderCropd: key {key!r} has spatial shape {tuple(d[key].shape[1:])}, "
                    f"but the source key {self.source_key!r} has {tuple(source.shape[1:])}"
                )
            d[key] = self.border_crop.crop(d[key], box)
        if self.box_key is not None:
            d[self.box_key] = box
        return d
