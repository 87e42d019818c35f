"""Patches centred on pixels of the IDRiD images, for the microaneurysm method's patch refinement network.

The method (Sarhan et al. 2019) classifies whether a patch's centre pixel is a microaneurysm. Lesion pixels are
the pixels of the microaneurysm masks of the segmentation set; healthy pixels come only from healthy eyes, the
grade-0 images of the grading set, inside the retina. This module turns reader records
(:func:`monai_weakloc.data.read_idrid`) into patch centres, crops a zero-padded patch around a centre, and
serves the patches of many centres from images decoded once.

A centre record is ``{"image": path, "id": image id, "centre": (row, col), "label": 1 or 0}``, the row and column
in pixels of the image as loaded by :class:`~monai_weakloc.transforms.LoadImage2D` (rows first).

Decoded images are cached as uint8, once per image, in a MONAI ``CacheDataset`` filled when
:class:`CentredPatchDataset` is built (before any ``DataLoader`` worker forks, so workers share the pages
instead of decoding their own copies). A 4288 x 2848 RGB IDRiD image takes 36.6 MB as uint8: the 81 images of
the segmentation set take 2.97 GB (float32 would take 11.9 GB); each grade-0 grading image adds 36.6 MB.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import CacheDataset
from monai.transforms import BorderPad, CastToTyped, Compose, MapTransform, SpatialCrop, apply_transform
from PIL import Image
from torch.utils.data import Dataset

from monai_weakloc.transforms.field_of_view import FundusFieldOfView
from monai_weakloc.transforms.load_2d import LoadImage2D, LoadImage2Dd

__all__ = [
    "CentredPatchDataset",
    "CropCentredPatchd",
    "crop_centred_patch",
    "healthy_patch_centres",
    "lesion_patch_centres",
]

LESION_LABEL = 1
HEALTHY_LABEL = 0
HEALTHY_GRADE = 0
UINT8_MAX = 255


def _check_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _record_field(record: Mapping, key: str, index: int) -> object:
    """``record[key]``; ``ValueError`` naming the record when it lacks the key."""
    if not isinstance(record, Mapping):
        raise TypeError(f"record {index} must be a dict, got {type(record).__name__}")
    if key not in record:
        raise ValueError(f"record {index} ({record.get('id', record.get('image'))}) has no {key!r}")
    return record[key]


def _image_size(path: str | Path) -> tuple[int, int]:
    """(H, W) of an image file, from its header (PIL formats) or by decoding it."""
    try:
        with Image.open(path) as image:
            width, height = image.size
        return height, width
    except OSError:
        return tuple(LoadImage2D(mode="keep")(path).shape[1:])


def _sample_pixels(pixels: np.ndarray, count: int | None, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``count`` of the (n, 2) ``(row, col)`` pixels drawn without replacement (all if ``None``), row-major order."""
    if count is not None and count < len(pixels):
        pixels = pixels[np.sort(rng.choice(len(pixels), size=count, replace=False))]
    return [(int(row), int(col)) for row, col in pixels]


def lesion_patch_centres(records: Sequence[Mapping], max_per_image: int | None = None, seed: int = 0) -> list[dict]:
    """Centres on the lesion pixels of segmentation records: every pixel of each ``mask``, or a sample.

    Read the records with ``read_idrid(root, task="segmentation", lesion="MA")``, so that ``mask`` is the
    microaneurysm mask. A record whose ``mask`` is ``None`` (an image without microaneurysm mask), or whose mask
    is empty, gives no centre.

    Args:
        records: segmentation records with ``image``, ``id`` and ``mask`` (a mask file path or ``None``; any
            value > 0 in the file is lesion).
        max_per_image: the most centres an image gives: a uniform sample of its lesion pixels without
            replacement, seeded; ``None`` keeps every lesion pixel.
        seed: seed of the sample (one ``numpy.random.default_rng(seed)`` drawn from in record order).

    Returns:
        ``{"image", "id", "centre": (row, col), "label": 1}`` records, image by image, each image's centres in
        row-major order.

    Raises:
        TypeError: when a record is not a dict.
        ValueError: when a record lacks ``image``, ``id`` or ``mask``, a mask's size differs from its image's
            (naming the mask), or ``max_per_image`` is not a positive integer.
    """
    if max_per_image is not None:
        _check_count(max_per_image, "max_per_image")
    rng = np.random.default_rng(seed)
    loader = LoadImage2D(mode="gray")
    centres = []
    for index, record in enumerate(records):
        mask_path = _record_field(record, "mask", index)
        image, image_id = _record_field(record, "image", index), _record_field(record, "id", index)
        if mask_path is None:
            continue
        mask = loader(mask_path)[0] > 0
        if tuple(mask.shape) != _image_size(image):
            raise ValueError(
                f"{mask_path}: mask size {tuple(mask.shape)} differs from its image's {_image_size(image)}"
            )
        pixels = torch.nonzero(mask).numpy()
        for centre in _sample_pixels(pixels, max_per_image, rng):
            centres.append({"image": image, "id": image_id, "centre": centre, "label": LESION_LABEL})
    return centres


def healthy_patch_centres(
    records: Sequence[Mapping], per_image: int, seed: int = 0, field_of_view: bool = True
) -> list[dict]:
    """Random centres in healthy images: ``per_image`` pixels of each grade-0 grading record.

    Read the records with ``read_idrid(root, task="grading")`` and keep the grade-0 ones; the method takes its
    healthy pixels only from healthy eyes, so a record of another grade is an error, not skipped.

    Args:
        records: grading records with ``image``, ``id`` and ``label`` (the retinopathy grade), all 0.
        per_image: centres per image, drawn uniformly without replacement.
        seed: seed of the draws (one ``numpy.random.default_rng(seed)`` drawn from in record order).
        field_of_view: draw inside the retina only, found by
            :class:`~monai_weakloc.transforms.FundusFieldOfView` on the decoded image; ``False`` draws from the
            whole image (and reads only the file's header).

    Returns:
        ``{"image", "id", "centre": (row, col), "label": 0}`` records, image by image, each image's centres in
        row-major order.

    Raises:
        TypeError: when a record is not a dict.
        ValueError: when a record lacks ``image``, ``id`` or ``label``, its grade is not 0 (naming the id and the
            grade), an image has fewer candidate pixels than ``per_image`` (naming the image), or ``per_image``
            is not a positive integer; and :class:`~monai_weakloc.transforms.FundusFieldOfView`'s error for an
            image without retina.
    """
    count = _check_count(per_image, "per_image")
    rng = np.random.default_rng(seed)
    loader, finder = LoadImage2D(mode="rgb"), FundusFieldOfView()
    centres = []
    for index, record in enumerate(records):
        image, image_id = _record_field(record, "image", index), _record_field(record, "id", index)
        grade = _record_field(record, "label", index)
        if int(grade) != HEALTHY_GRADE:
            raise ValueError(
                f"record {index} ({image_id}) has retinopathy grade {grade}; healthy centres come from grade-0 "
                "images only"
            )
        if field_of_view:
            pixels = torch.nonzero(finder.compute_mask(loader(image))[0]).numpy()
        else:
            height, width = _image_size(image)
            pixels = np.stack(np.unravel_index(np.arange(height * width), (height, width)), axis=1)
        if len(pixels) < count:
            where = "in its field of view" if field_of_view else "in all"
            raise ValueError(f"{image}: {len(pixels)} pixels {where}, fewer than per_image={count}")
        for centre in _sample_pixels(pixels, count, rng):
            centres.append({"image": image, "id": image_id, "centre": centre, "label": HEALTHY_LABEL})
    return centres


def crop_centred_patch(image: torch.Tensor, centre: Sequence[int], patch_size: int) -> torch.Tensor:
    """The ``patch_size`` x ``patch_size`` patch centred on a pixel, zero-padded where it leaves the image.

    MONAI's ``SpatialCrop(roi_center=...)`` does not keep a border patch centred (it clamps the start at 0 and
    keeps the size, which shifts the window, or cuts the window at the end), and ``SpatialPad`` pads
    symmetrically or at the end, not on the side that was cut. So the window is cut to the image with
    ``SpatialCrop(roi_start, roi_end)`` and ``BorderPad`` puts back, with zeros, exactly what lies outside on
    each side.

    Args:
        image: (C, H, W) tensor or ``MetaTensor``.
        centre: ``(row, col)`` of a pixel of the image.
        patch_size: odd side of the patch.

    Returns:
        (C, patch_size, patch_size) tensor of the image's type and dtype; element ``[:, r, c]`` is image pixel
        ``(row - patch_size // 2 + r, col - patch_size // 2 + c)``, or 0 outside the image. It may share memory
        with ``image``.

    Raises:
        ValueError: when ``image`` is not (C, H, W), ``patch_size`` is not a positive odd integer, or the centre
            is not a pixel of the image.
    """
    if not isinstance(image, torch.Tensor) or image.ndim != 3:
        raise ValueError(f"image must be a (C, H, W) tensor, got {getattr(image, 'shape', type(image).__name__)}")
    size = _check_count(patch_size, "patch_size")
    if size % 2 == 0:
        raise ValueError(f"patch_size must be odd so that the centre pixel is the patch centre, got {patch_size}")
    height, width = image.shape[1:]
    if len(centre) != 2 or not all(isinstance(value, Integral) for value in centre):
        raise ValueError(f"centre must be a (row, col) pair of integers, got {centre!r}")
    row, col = int(centre[0]), int(centre[1])
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"centre (row, col) = ({row}, {col}) is not a pixel of the (H, W) = ({height}, {width}) image")
    radius = size // 2
    top, left = row - radius, col - radius
    bottom, right = row + radius + 1, col + radius + 1
    patch = SpatialCrop(roi_start=(max(top, 0), max(left, 0)), roi_end=(min(bottom, height), min(right, width)))(image)
    border = (max(-top, 0), max(bottom - height, 0), max(-left, 0), max(right - width, 0))
    return BorderPad(spatial_border=border, mode="constant")(patch) if any(border) else patch


class CropCentredPatchd(MapTransform):
    """Replace each image under ``keys`` with the zero-padded patch centred on ``data[centre_key]``.

    See :func:`crop_centred_patch`. Put it after loading (or over cached images, as :class:`CentredPatchDataset`
    does); the centre record's other keys pass through.

    Args:
        keys: keys of (C, H, W) images.
        patch_size: odd side of the patch.
        centre_key: the key of the ``(row, col)`` centre.
        allow_missing_keys: don't raise if one of ``keys`` is missing.

    Raises:
        ValueError: when ``patch_size`` is not a positive odd integer.
    """

    def __init__(
        self, keys: KeysCollection, patch_size: int, centre_key: str = "centre", allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        size = _check_count(patch_size, "patch_size")
        if size % 2 == 0:
            raise ValueError(f"CropCentredPatchd: patch_size must be odd, got {patch_size}")
        self.patch_size = size
        self.centre_key = centre_key

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        if self.centre_key not in d:
            raise ValueError(f"CropCentredPatchd: the data has no centre key {self.centre_key!r}")
        for key in self.key_iterator(d):
            d[key] = crop_centred_patch(d[key], d[self.centre_key], self.patch_size)
        return d


class CentredPatchDataset(Dataset):
    """Patches at centre records, cropped from images decoded once and cached as uint8.

    The distinct images of the centres are loaded with :class:`~monai_weakloc.transforms.LoadImage2Dd` (RGB),
    passed through ``image_transform`` (whole-image preprocessing such as the local-contrast enhancement, whose
    output must stay in 0..255; it is rounded to integers) and cached as uint8 in a MONAI ``CacheDataset`` when
    the dataset is built (``cache_num_workers`` threads decode them); an item is the centre record with
    ``image`` replaced by its float32 (3, patch_size, patch_size) patch (:class:`CropCentredPatchd`, zero-padded
    at the border; intensities 0-255), then ``transform``.

    Args:
        centres: records with ``image`` (path), ``centre`` ``(row, col)`` and any other keys (``id``,
            ``label``), as :func:`lesion_patch_centres` and :func:`healthy_patch_centres` return.
        patch_size: odd side of the patches.
        transform: a MONAI transform applied to each item after cropping (intensity scaling, random flips), or
            ``None``.
        cache_num_workers: threads decoding the images into the cache.
        image_transform: a MONAI dictionary transform of the whole loaded image (key ``image``) before caching,
            or ``None``.

    Raises:
        ValueError: when ``patch_size`` is not a positive odd integer, a centre record lacks ``image`` or
            ``centre``, or an image's values do not fit uint8 (naming the file).
    """

    def __init__(
        self,
        centres: Sequence[Mapping],
        patch_size: int,
        transform: MapTransform | Compose | None = None,
        cache_num_workers: int = 0,
        image_transform: MapTransform | Compose | None = None,
    ) -> None:
        self.centres = list(centres)
        self.crop = CropCentredPatchd(keys="image", patch_size=patch_size)
        self.transform = transform
        for index, record in enumerate(self.centres):
            _record_field(record, "centre", index)
        paths = list(
            dict.fromkeys(str(_record_field(record, "image", index)) for index, record in enumerate(self.centres))
        )
        self.image_index = {path: index for index, path in enumerate(paths)}
        self.images = CacheDataset(
            [{"image": path} for path in paths],
            transform=Compose(
                [
                    LoadImage2Dd(keys="image", mode="rgb"),
                    *([] if image_transform is None else [image_transform]),
                    _RoundToUint8Ranged(keys="image"),
                    CastToTyped(keys="image", dtype=torch.uint8),
                ]
            ),
            cache_rate=1.0,
            num_workers=cache_num_workers,
            copy_cache=False,
            progress=False,
        )

    def __len__(self) -> int:
        return len(self.centres)

    def __getitem__(self, index: int) -> dict:
        record = self.centres[index]
        image = self.images[self.image_index[str(record["image"])]]["image"]
        item = self.crop({**record, "image": image})
        item["image"] = item["image"].to(torch.float32)  # a copy: the cached image is never handed out
        return apply_transform(self.transform, item) if self.transform is not None else item


class _RoundToUint8Ranged(MapTransform):
    """Round the images under ``keys`` to integers; ``ValueError`` naming the file when one holds values outside
    0..255, which a uint8 cannot."""

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        for key in self.key_iterator(d):
            image = d[key]
            if float(image.min()) < 0 or float(image.max()) > UINT8_MAX:
                source = getattr(image, "meta", {}).get("filename_or_obj", key)
                raise ValueError(f"{source}: values outside 0..{UINT8_MAX}, cannot be cached as uint8")
            d[key] = image.round()
        return d
