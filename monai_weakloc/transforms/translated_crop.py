"""A centre crop shifted by a random translation that records where it lies in the original image.

The multi-attention network's preprocessing (Ma et al. 2019) downscales chest X-rays to 256 px, translates them
randomly by up to 12 px and crops 224 px; inference takes the centre crop. MONAI's ``RandSpatialCropd`` draws the
crop anywhere in the image and its ``CenterSpatialCropd`` records no box, while the output writer
(:class:`~monai_weakloc.engines.localization_outputs.LocalizationOutputWriter`) maps points, boxes and maps back to
the original image through ``meta["crop_box"]``, in original pixels. This transform crops and records that box.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, RandomizableTransform, SpatialCrop

from monai_weakloc.transforms.border_crop import CROP_BOX_META_KEY
from monai_weakloc.transforms.image_checks import check_channel_first_2d
from monai_weakloc.transforms.load_2d import ORIGINAL_SIZE_META_KEY

__all__ = ["TranslatedCentreCropd"]


class TranslatedCentreCropd(RandomizableTransform, MapTransform):
    """Crop ``roi_size`` pixels at the centre of each (C, H, W) image, shifted by a random integer translation of at
    most ``max_translation`` pixels along each axis (the same for every key), and record the crop in the original
    image as ``meta["crop_box"]``.

    The crop box is ``(x0, y0, x1, y1)`` (end exclusive) in pixels of the image the current one was resized from:
    the earlier crop box when the image carries one, else the whole original (``meta["original_size"]``, (H, W),
    else the current size). With ``max_translation`` 0 the transform is deterministic (inference).

    Args:
        keys: keys of the images to crop.
        roi_size: (H, W) of the crop, or one int for a square.
        max_translation: the largest shift in pixels, at most half the margin ``(H - roi_H) / 2`` of every image.
        allow_missing_keys: don't raise if one of ``keys`` is missing.

    Raises:
        ValueError: on a crop larger than an image (naming its size), a translation larger than the margin, a
            negative translation, or images of different sizes under one call.
    """

    def __init__(
        self,
        keys: KeysCollection,
        roi_size: int | tuple[int, int],
        max_translation: int = 0,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob=1.0)
        size = (roi_size, roi_size) if isinstance(roi_size, int) else tuple(roi_size)
        if len(size) != 2 or not all(isinstance(v, int) and v >= 1 for v in size):
            raise ValueError(f"TranslatedCentreCropd: roi_size must be one or two positive integers, got {roi_size!r}")
        if isinstance(max_translation, bool) or not isinstance(max_translation, int) or max_translation < 0:
            raise ValueError(f"TranslatedCentreCropd: max_translation must be an integer >= 0, got {max_translation!r}")
        self.roi_size: tuple[int, int] = (int(size[0]), int(size[1]))
        self.max_translation = max_translation
        self._shift = (0, 0)

    def randomize(self, data: object = None) -> None:
        """Draw the (row, column) shift, each uniform in ``[-max_translation, max_translation]``."""
        low, high = -self.max_translation, self.max_translation + 1
        self._shift = (int(self.R.randint(low, high)), int(self.R.randint(low, high)))

    def _window(self, height: int, width: int) -> tuple[int, int]:
        """The crop's top-left (row, column) in an image of ``height`` x ``width``."""
        roi_h, roi_w = self.roi_size
        if height < roi_h or width < roi_w:
            raise ValueError(
                f"TranslatedCentreCropd: the {width} x {height} px image is smaller than the {roi_w} x {roi_h} px crop"
            )
        margin = min(height - roi_h, width - roi_w) // 2
        if self.max_translation > margin:
            raise ValueError(
                f"TranslatedCentreCropd: max_translation {self.max_translation} exceeds the margin of {margin} px "
                f"around the {roi_w} x {roi_h} px crop of a {width} x {height} px image"
            )
        return (height - roi_h) // 2 + self._shift[0], (width - roi_w) // 2 + self._shift[1]

    def _crop_box(self, image: object, top: int, left: int) -> np.ndarray:
        """The crop in pixels of the image the current one was resized from, ``(x0, y0, x1, y1)``, int64."""
        height, width = (int(v) for v in image.shape[-2:])
        meta = image.meta if isinstance(image, MetaTensor) else {}
        if CROP_BOX_META_KEY in meta:
            ref_x0, ref_y0, ref_x1, ref_y1 = (float(v) for v in np.asarray(meta[CROP_BOX_META_KEY]).reshape(-1)[:4])
        elif ORIGINAL_SIZE_META_KEY in meta:
            original_h, original_w = (float(v) for v in np.asarray(meta[ORIGINAL_SIZE_META_KEY]).reshape(-1)[:2])
            ref_x0, ref_y0, ref_x1, ref_y1 = 0.0, 0.0, original_w, original_h
        else:
            ref_x0, ref_y0, ref_x1, ref_y1 = 0.0, 0.0, float(width), float(height)
        scale_x, scale_y = (ref_x1 - ref_x0) / width, (ref_y1 - ref_y0) / height
        roi_h, roi_w = self.roi_size
        box = [ref_x0 + left * scale_x, ref_y0 + top * scale_y, ref_x0 + (left + roi_w) * scale_x]
        box.append(ref_y0 + (top + roi_h) * scale_y)
        return np.rint(np.asarray(box)).astype(np.int64)

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        """Crop every key at one drawn shift.

        Args:
            data: a dict holding (C, H, W) images under ``keys``.

        Returns:
            a copy of ``data`` with the (C, roi_H, roi_W) crops; ``MetaTensor`` crops carry ``meta["crop_box"]``.
        """
        d = dict(data)
        self.randomize()
        size = None
        for key in self.key_iterator(d):
            check_channel_first_2d(d[key], f"TranslatedCentreCropd (key {key!r})")
            height, width = (int(v) for v in d[key].shape[-2:])
            if size is not None and (height, width) != size:
                raise ValueError(
                    f"TranslatedCentreCropd: key {key!r} is {width} x {height} px, others {size[1]} x {size[0]}"
                )
            size = (height, width)
            top, left = self._window(height, width)
            box = self._crop_box(d[key], top, left)
            cropped = SpatialCrop(roi_start=(top, left), roi_end=(top + self.roi_size[0], left + self.roi_size[1]))(
                d[key]
            )
            if isinstance(cropped, MetaTensor):
                cropped.meta[CROP_BOX_META_KEY] = box
            d[key] = cropped
        return d
