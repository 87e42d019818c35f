"""Load a 2D image file as a float32 channel-first ``MetaTensor`` (C, H, W), rows first, as a viewer shows it.

MONAI's ``LoadImage`` does the loading; what it lacks is one consistent (H, W) convention over the
formats the public datasets come in, since each reader has its own axis order:

- PNG, JPEG, TIFF, BMP and PGM/PPM/PNM go through ``PILReader(reverse_indexing=False)`` (ITK has no
  PNM reader, so PGM files such as MIAS's go through PIL too). Palette, bilevel and CMYK images are
  converted to L/RGB(A) first, since their raw arrays are indices, not intensities.
- DICOM goes through ``PydicomReader(swap_ij=False)`` (rows, columns); ``MONOCHROME1`` images (low
  values shown white) are inverted so that they look as a viewer shows them (see
  :meth:`LoadImage2D.dicom_to_display`).
- NIfTI goes through ``NibabelReader``; its data array is indexed (i, j) = (x, y), the order ITK and
  SimpleITK write a (H, W) array in, so the loader transposes it to (H, W) (and swaps the affine's first
  two columns to match). The affine's flips are not applied.

``mode`` then sets the channels: ``"rgb"`` gives 3 (alpha dropped, gray repeated), ``"gray"`` gives 1
(luminance ``0.299 R + 0.587 G + 0.114 B``, as PIL's ``convert("L")``), ``"keep"`` keeps what the file
holds. Intensities stay as stored (0-255 for 8-bit files, 0-65535 for 16-bit ones). The result's meta
gains ``original_size`` (H, W) and ``original_channels`` (channels in the file). MONAI's own
``spatial_shape`` keeps each reader's order (PIL's is (W, H)), so read the size from ``original_size``.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor, NibabelReader, PILReader, PydicomReader
from monai.data.image_reader import ImageReader
from monai.transforms import LoadImage, MapTransform, Transform
from monai.utils import ensure_tuple_rep
from PIL import Image

__all__ = [
    "LoadImage2D",
    "LoadImage2Dd",
    "LOAD_MODES",
    "SUPPORTED_SUFFIXES",
    "ORIGINAL_SIZE_META_KEY",
    "ORIGINAL_CHANNELS_META_KEY",
]

LOAD_MODES = ("rgb", "gray", "keep")
PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".ppm", ".pnm")
DICOM_SUFFIXES = (".dcm", ".dicom")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
SUPPORTED_SUFFIXES = PIL_SUFFIXES + DICOM_SUFFIXES + NIFTI_SUFFIXES
ORIGINAL_SIZE_META_KEY = "original_size"
ORIGINAL_CHANNELS_META_KEY = "original_channels"
LUMINANCE_WEIGHTS = (0.299, 0.587, 0.114)
DICOM_PHOTOMETRIC_TAG = "00280004"
DICOM_BITS_STORED_TAG = "00280101"
DICOM_PIXEL_REPRESENTATION_TAG = "00280103"
DICOM_RESCALE_TAGS = ("00281052", "00281053")
DICOM_TAG_KEY = re.compile(r"^[0-9A-Fa-f]{8}$")
PIL_MODE_CONVERSIONS = {
    "1": "L",
    "PA": "RGBA",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "RGBX": "RGB",
    "RGBa": "RGBA",
    "La": "LA",
}


def pil_to_intensity_mode(image: Image.Image) -> Image.Image:
    """Convert PIL modes whose raw array is not intensities (palette, bilevel, CMYK, ...) to L/RGB(A).

    Args:
        image: a PIL image as opened.

    Returns:
        the image in a mode whose array holds intensities (L, LA, I, I;16, F, RGB or RGBA).
    """
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    target = PIL_MODE_CONVERSIONS.get(image.mode)
    return image.convert(target) if target is not None else image


def dicom_tag_value(tags: Mapping[str, dict], tag: str) -> object:
    """The first value of ``tag`` in pydicom's JSON form of a dataset (``{tag: {"vr", "Value"}}``), or ``None``."""
    values = tags.get(tag, {}).get("Value")
    return values[0] if values else None


def file_suffix(path: Path) -> str:
    """The lower-case suffix of ``path`` that picks its reader (``.nii.gz`` counts as one)."""
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def convert_channels(img: torch.Tensor, mode: str, source: str) -> torch.Tensor:
    """Give a (C, H, W) image the channels ``mode`` asks for.

    Args:
        img: (C, H, W) float tensor; C = 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
        mode: ``"rgb"``, ``"gray"`` or ``"keep"``.
        source: the file, named in errors.

    Returns:
        (3, H, W) for ``"rgb"``, (1, H, W) for ``"gray"``, ``img`` itself for ``"keep"``.

    Raises:
        ValueError: if C is not 1 to 4 and ``mode`` is not ``"keep"``.
    """
    if mode == "keep":
        return img
    channels = img.shape[0]
    if channels not in (1, 2, 3, 4):
        raise ValueError(f"{source}: cannot convert an image with {channels} channels to {mode!r}; use mode='keep'")
    colour = img[:3] if channels >= 3 else img[:1]  # drops alpha
    if mode == "rgb":
        return colour.expand(3, -1, -1).clone() if colour.shape[0] == 1 else colour
    if colour.shape[0] == 1:
        return colour
    weights = torch.tensor(LUMINANCE_WEIGHTS, dtype=img.dtype).view(3, 1, 1)
    return (colour * weights).sum(dim=0, keepdim=True)


class LoadImage2D(Transform):
    """Load a 2D image file as a float32 ``MetaTensor`` (C, H, W) in viewer orientation.

    See the module docstring for the formats and conventions.

    Args:
        mode: ``"rgb"`` (3 channels), ``"gray"`` (1 channel) or ``"keep"`` (as stored).

    Raises:
        ValueError: for an unknown ``mode``.
    """

    def __init__(self, mode: str = "rgb") -> None:
        if mode not in LOAD_MODES:
            raise ValueError(f"LoadImage2D: mode must be one of {LOAD_MODES}, got {mode!r}")
        self.mode = mode
        self.loader = LoadImage(image_only=True, dtype=np.float32, ensure_channel_first=True)
        self.pil_reader = PILReader(converter=pil_to_intensity_mode, reverse_indexing=False)
        self.dicom_reader = PydicomReader(swap_ij=False, prune_metadata=False)
        self.nifti_reader = NibabelReader()

    def reader_for(self, path: Path) -> ImageReader:
        """The reader for ``path``, chosen by its suffix.

        Raises:
            ValueError: naming the file, for a suffix not in ``SUPPORTED_SUFFIXES``.
        """
        suffix = file_suffix(path)
        if suffix in PIL_SUFFIXES:
            return self.pil_reader
        if suffix in DICOM_SUFFIXES:
            return self.dicom_reader
        if suffix in NIFTI_SUFFIXES:
            return self.nifti_reader
        raise ValueError(
            f"{path}: unsupported image file type {suffix or '(no suffix)'!r}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )

    def __call__(self, filename: str | Path) -> MetaTensor:
        """Load ``filename``.

        Args:
            filename: path of a 2D image file.

        Returns:
            float32 ``MetaTensor`` (C, H, W) with ``meta["original_size"]`` = (H, W) (int64 array),
            ``meta["original_channels"]`` and MONAI's ``meta["filename_or_obj"]``.

        Raises:
            RuntimeError: if MONAI's meta tracking is switched off (``set_track_meta(False)``).
            TypeError: if ``filename`` is not a str or path.
            ValueError: naming the file, if it does not exist, has an unsupported suffix, cannot be read
                or is not a 2D image.
        """
        if not isinstance(filename, (str, Path)):
            raise TypeError(f"LoadImage2D: expected a file path, got {type(filename).__name__}")
        path = Path(filename).expanduser()
        if not path.is_file():
            raise ValueError(f"{path}: image file does not exist")
        reader = self.reader_for(path)
        try:
            img = self.loader(path, reader=reader)
        except Exception as err:  # the readers raise many types (OSError, RuntimeError, InvalidDicomError, ...)
            raise ValueError(f"{path}: cannot read the image ({type(err).__name__}: {err})") from err
        if not isinstance(img, MetaTensor):
            raise RuntimeError("LoadImage2D needs MONAI's meta tracking; call monai.data.set_track_meta(True)")
        if reader is self.dicom_reader:
            img = self.dicom_to_display(img)
        if reader is self.nifti_reader:
            img = self.nifti_to_rows_first(img, path)
        if img.ndim != 3:
            raise ValueError(f"{path}: not a 2D image, got (channels, spatial...) shape {tuple(img.shape)}")
        original_channels = img.shape[0]
        img = convert_channels(img, self.mode, str(path))
        img.meta[ORIGINAL_SIZE_META_KEY] = np.array(img.shape[1:], dtype=np.int64)
        img.meta[ORIGINAL_CHANNELS_META_KEY] = original_channels
        return img

    @staticmethod
    def dicom_to_display(img: MetaTensor) -> MetaTensor:
        """Invert a ``MONOCHROME1`` image and drop the DICOM tags from the meta.

        Args:
            img: (C, H, W) image as ``PydicomReader`` loaded it, with the file's tags in its meta.

        Returns:
            (C, H, W) image in which high values are bright; meta without the raw DICOM tags. An unsigned
            image without modality rescaling is inverted within its stored range, ``2**BitsStored - 1 - x``,
            any other one within its own, ``min + max - x``.
        """
        tags = {key: img.meta.pop(key) for key in list(img.meta) if isinstance(key, str) and DICOM_TAG_KEY.match(key)}
        if dicom_tag_value(tags, DICOM_PHOTOMETRIC_TAG) != "MONOCHROME1":
            return img
        bits_stored = dicom_tag_value(tags, DICOM_BITS_STORED_TAG)
        rescaled = any(dicom_tag_value(tags, tag) is not None for tag in DICOM_RESCALE_TAGS)
        if bits_stored is not None and dicom_tag_value(tags, DICOM_PIXEL_REPRESENTATION_TAG) == 0 and not rescaled:
            return (2 ** int(bits_stored) - 1) - img
        return img.min() + img.max() - img

    @staticmethod
    def nifti_to_rows_first(img: MetaTensor, path: Path) -> MetaTensor:
        """Turn a NIfTI image indexed (C, x, y[, 1...]) into (C, H, W) = (C, y, x).

        Args:
            img: image as ``NibabelReader`` loaded it, channel first.
            path: the file, named in errors.

        Returns:
            (C, H, W) image; the affine's first two columns swapped to match.

        Raises:
            ValueError: if the image has more than two non-singleton spatial dimensions.
        """
        while img.ndim > 3 and img.shape[-1] == 1:
            img = img[..., 0]
        if img.ndim != 3:
            raise ValueError(f"{path}: not a 2D NIfTI image, got (channels, spatial...) shape {tuple(img.shape)}")
        affine = img.affine.clone()
        affine[:, [0, 1]] = affine[:, [1, 0]]
        img = img.permute(0, 2, 1).contiguous()
        img.affine = affine
        return img


class LoadImage2Dd(MapTransform):
    """Dictionary version of :class:`LoadImage2D`: replaces each path under ``keys`` with its image.

    Args:
        keys: keys holding image file paths.
        mode: ``"rgb"``, ``"gray"`` or ``"keep"``, as in :class:`LoadImage2D`; one for all keys or one per
            key (e.g. ``("rgb", "gray")`` for an image and its mask).
        allow_missing_keys: don't raise if one of ``keys`` is missing.

    Raises:
        ValueError: if the number of modes is neither 1 nor the number of keys.
    """

    def __init__(
        self, keys: KeysCollection, mode: str | Sequence[str] = "rgb", allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
        if len(modes) not in (1, len(self.keys)):
            raise ValueError(f"LoadImage2Dd: got {len(modes)} modes for {len(self.keys)} keys {self.keys}")
        self.loaders = {mode_: LoadImage2D(mode=mode_) for mode_ in set(modes)}
        self.modes = ensure_tuple_rep(modes[0], len(self.keys)) if len(modes) == 1 else modes

    def __call__(self, data: Mapping[Hashable, str | Path]) -> dict[Hashable, MetaTensor]:
        d = dict(data)
        for key, mode in self.key_iterator(d, self.modes):
            d[key] = self.loaders[mode](d[key])
        return d
