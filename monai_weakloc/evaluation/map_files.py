"""Folders of per-image maps for the evaluation: heatmaps, probability maps, ground-truth masks, image sizes.

Files are found by image id (the file name without its suffix, see
:func:`monai_weakloc.evaluation.tables.image_id`) directly in a folder. Formats and their orientation:

- PNG, TIFF, JPEG, BMP: read by :class:`~monai_weakloc.transforms.load_2d.LoadImage2D` (MONAI's
  ``PILReader`` without axis reversal), array row y = image row y;
- NIfTI (``.nii``, ``.nii.gz``): read with nibabel in the NIfTI/ITK order that
  :func:`~monai_weakloc.report.heatmap_nifti.write_heatmap_nifti` writes (data array ``[x, y]``), and
  transposed to rows first;
- ``.npy``: a NumPy (H, W) array.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image, UnidentifiedImageError

from monai_weakloc.data.readers.files import absolute_root
from monai_weakloc.evaluation.tables import image_id
from monai_weakloc.transforms.load_2d import NIFTI_SUFFIXES, PIL_SUFFIXES, LoadImage2D, file_suffix

__all__ = [
    "MAP_SUFFIXES",
    "map_files_by_id",
    "read_heatmap",
    "read_probability_map",
    "read_mask",
    "read_image_sizes",
]

logger = logging.getLogger(__name__)

NUMPY_SUFFIX = ".npy"
MAP_SUFFIXES: tuple[str, ...] = (*PIL_SUFFIXES, *NIFTI_SUFFIXES, NUMPY_SUFFIX)
"""Suffixes of the map and mask files the evaluation reads."""
TIFF_SUFFIXES = (".tif", ".tiff")
FORMAT_PREFERENCE: tuple[str, ...] = (
    NUMPY_SUFFIX,
    *NIFTI_SUFFIXES,
    *TIFF_SUFFIXES,
    *(suffix for suffix in PIL_SUFFIXES if suffix not in TIFF_SUFFIXES),
)
"""Which file is read when one id has several: most precise first."""
EIGHT_BIT_MAX = 255.0
EIGHT_BIT_PIL_MODES = ("1", "L", "P")
FLOAT_PIL_MODE = "F"


def map_files_by_id(folder: str | Path, what: str) -> dict[str, Path]:
    """The map files directly in ``folder``, by image id.

    When one id has files in several formats (the bundles write ``<image>_<name>.png`` and ``.nii.gz``
    side by side), the most precise is read: ``.npy``, then NIfTI, then the image formats in the order of
    :data:`MAP_SUFFIXES` (TIFF before PNG); how many ids had a choice is logged.

    Args:
        folder: the folder to list.
        what: what the files are (``"heatmap"``, ``"truth mask"``), for messages.

    Returns:
        image id -> absolute path, for every id with a file whose suffix is in :data:`MAP_SUFFIXES`, in
        sorted id order.

    Raises:
        FileNotFoundError: when ``folder`` is not a folder.
    """
    directory = absolute_root(folder)
    if not directory.is_dir():
        raise FileNotFoundError(f"{what} folder not found: {directory}")
    candidates: dict[str, list[Path]] = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and file_suffix(path) in MAP_SUFFIXES:
            candidates.setdefault(image_id(path.name), []).append(path)
    chosen = sum(len(paths) > 1 for paths in candidates.values())
    if chosen:
        logger.info("%s: %d %s id(s) have files in several formats; reading the most precise", directory, chosen, what)
    return {
        identifier: min(candidates[identifier], key=lambda path: FORMAT_PREFERENCE.index(file_suffix(path)))
        for identifier in sorted(candidates)
    }


@lru_cache(maxsize=1)
def _image_loader() -> LoadImage2D:
    """One loader for every image file (building one sets up MONAI's readers)."""
    return LoadImage2D(mode="keep")


def _read_channels(path: Path) -> np.ndarray:
    """(C, H, W) float64 array of a map file in row-major image orientation (module conventions)."""
    suffix = file_suffix(path)
    if suffix == NUMPY_SUFFIX:
        array = np.load(path, allow_pickle=False)
    elif suffix in NIFTI_SUFFIXES:
        array = np.asarray(nib.load(path).dataobj)
        while array.ndim > 2 and array.shape[-1] == 1:
            array = array[..., 0]
        array = array.T
    else:
        array = np.asarray(_image_loader()(path))
        return array.astype(np.float64)
    if array.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D (H, W) map, got shape {tuple(array.shape)}")
    return np.asarray(array, dtype=np.float64)[None]


def _single_channel(path: Path, channels: np.ndarray, what: str) -> np.ndarray:
    """The (H, W) map of a (1, H, W) array; several channels are a ``ValueError`` naming the file."""
    if channels.shape[0] != 1:
        raise ValueError(
            f"{path}: a {what} must have one channel, got {channels.shape[0]} (write it without a colour map)"
        )
    if not np.isfinite(channels).all():
        raise ValueError(f"{path}: the {what} holds NaN or infinite values")
    return channels[0]


def read_heatmap(path: str | Path) -> np.ndarray:
    """Read a heatmap as stored (its scale does not matter to MaxBoxAcc, which min-max normalises it).

    Returns:
        (H, W) float64 map.

    Raises:
        ValueError: naming the file, for a map with several channels, non-finite values or another rank.
    """
    file = Path(path)
    return _single_channel(file, _read_channels(file), "heatmap")


def _pil_mode(path: Path) -> str:
    """The PIL mode of an image file, from its header."""
    try:
        with Image.open(path) as image:
            return image.mode
    except UnidentifiedImageError as error:
        raise ValueError(f"{path}: not an image PIL can read: {error}") from error


def read_probability_map(path: str | Path) -> np.ndarray:
    """Read a probability map as probabilities in [0, 1].

    8-bit images (PNG, TIFF, ...) hold levels 0..255, scaled to [0, 1]; float TIFF (PIL mode ``F``), NIfTI
    and ``.npy`` files hold the probabilities themselves.

    Returns:
        (H, W) float32 probabilities in [0, 1].

    Raises:
        ValueError: naming the file, for several channels, non-finite values, an integer image deeper than
            8 bits, or stored probabilities outside [0, 1].
    """
    file = Path(path)
    values = _single_channel(file, _read_channels(file), "probability map")
    mode = _pil_mode(file) if file_suffix(file) in PIL_SUFFIXES else FLOAT_PIL_MODE
    if mode in EIGHT_BIT_PIL_MODES:
        values = values / EIGHT_BIT_MAX
    elif mode != FLOAT_PIL_MODE:
        raise ValueError(f"{file}: image mode {mode!r} is not an 8-bit or float map; write 8-bit levels 0..255")
    elif values.size and (values.min() < 0.0 or values.max() > 1.0):
        raise ValueError(f"{file}: probabilities must lie in [0, 1], found {values.min():g} .. {values.max():g}")
    return values.astype(np.float32)


def read_mask(path: str | Path) -> np.ndarray:
    """Read a ground-truth mask, binarised: a pixel is inside when any channel is > 0.

    Returns:
        (H, W) bool mask.
    """
    return (_read_channels(Path(path)) > 0).any(axis=0)


def read_image_sizes(folder: str | Path, ids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """(H, W) of the images with the given ids, from the file headers only (PIL opens files lazily).

    Args:
        folder: the image folder; image ``<id>.<suffix>`` directly in it, any suffix PIL reads.
        ids: the image ids wanted.

    Returns:
        image id -> (H, W).

    Raises:
        FileNotFoundError: when ``folder`` is not a folder.
        ValueError: naming the folder and the first ids without an image, an id with several images, or a
            file PIL cannot identify.
    """
    directory = absolute_root(folder)
    if not directory.is_dir():
        raise FileNotFoundError(f"image folder not found: {directory}")
    candidates: dict[str, list[Path]] = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and file_suffix(path) in PIL_SUFFIXES:
            candidates.setdefault(image_id(path.name), []).append(path)
    wanted = list(dict.fromkeys(ids))
    missing = [identifier for identifier in wanted if identifier not in candidates]
    if missing:
        shown = ", ".join(repr(identifier) for identifier in missing[:5])
        raise ValueError(f"{directory}: no image file for {len(missing)} image(s): {shown}")
    sizes: dict[str, tuple[int, int]] = {}
    for identifier in wanted:
        paths = candidates[identifier]
        if len(paths) > 1:
            raise ValueError(f"{directory}: image {identifier!r} is ambiguous: {', '.join(p.name for p in paths)}")
        try:
            with Image.open(paths[0]) as image:
                width, height = image.size
        except UnidentifiedImageError as error:
            raise ValueError(f"{paths[0]}: not an image PIL can read: {error}") from error
        sizes[identifier] = (height, width)
    return sizes
