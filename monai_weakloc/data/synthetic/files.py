"""Checks of the generators' arguments and byte-deterministic writers for images and tables.

Every writer produces the same bytes for the same array: PNG, TIFF and PGM are lossless and carry no
timestamps, JPEG uses a fixed quality and no chroma subsampling, CSV uses ``\\n`` line ends, and the
Excel writer (``xlwt``) stores no dates.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import xlwt
from PIL import Image

__all__ = [
    "MIN_IMAGE_SIZE",
    "MAX_IMAGE_SIZE",
    "JPEG_QUALITY",
    "check_synth_arguments",
    "prepare_output_dir",
    "save_image",
    "save_binary_mask",
    "write_csv",
    "write_xls",
]

MIN_IMAGE_SIZE = 32
MAX_IMAGE_SIZE = 4096
JPEG_QUALITY = 95

_FORMAT_BY_SUFFIX = {".jpeg": "JPEG", ".jpg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".pgm": "PPM"}


def _check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> None:
    """Raise ``TypeError`` unless ``value`` is an int (not a bool), ``ValueError`` unless it is in range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ValueError(f"{name} must be at least {minimum}{upper}, got {value}")


def check_synth_arguments(num_images: int, seed: int, image_size: int) -> None:
    """Validate the arguments every generator shares.

    Raises:
        TypeError: an argument is not an int.
        ValueError: ``num_images < 1``, ``seed < 0`` or ``image_size`` outside
            [``MIN_IMAGE_SIZE``, ``MAX_IMAGE_SIZE``].
    """
    _check_int("num_images", num_images, 1)
    _check_int("seed", seed, 0)
    _check_int("image_size", image_size, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)


def prepare_output_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` (and parents) and return it; refuse a directory that already holds files.

    A dataset written over an older one would mix both, so generators only write into a new or
    empty directory.

    Raises:
        ValueError: ``out_dir`` is a file, or a directory that is not empty.
    """
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise ValueError(f"output path {root} is a file, not a directory")
    if root.is_dir() and any(root.iterdir()):
        raise ValueError(
            f"output directory {root} is not empty; synthetic datasets are written into a new or empty directory"
        )
    root.mkdir(parents=True, exist_ok=True)
    return root


def save_image(path: Path, pixels: np.ndarray) -> None:
    """Write a uint8 image; the format follows the suffix (``.jpeg``/``.jpg``, ``.png``, ``.tif``, ``.pgm``).

    Args:
        path: destination; parent folders are created.
        pixels: uint8 array of shape (H, W) (grayscale), (H, W, 3) (RGB) or (H, W, 4) (RGBA).

    Raises:
        ValueError: unknown suffix, or a dtype/shape the format cannot hold.
    """
    image_format = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if image_format is None:
        raise ValueError(
            f"{path}: unsupported image suffix {path.suffix!r}, expected one of {sorted(_FORMAT_BY_SUFFIX)}"
        )
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError(f"{path}: expected a uint8 (H, W) or (H, W, C) array, got {pixels.dtype} {pixels.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels)
    if image_format == "JPEG":
        image.save(path, image_format, quality=JPEG_QUALITY, subsampling=0)
    else:
        image.save(path, image_format)


def save_binary_mask(path: Path, mask: np.ndarray) -> None:
    """Write a bool mask of shape (H, W) as an 8-bit grayscale image with values 0 and 255."""
    save_image(path, np.where(mask, 255, 0).astype(np.uint8))


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write a comma-separated table with ``\\n`` line ends; ``header`` is written as is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_xls(path: Path, sheet_name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write a one-sheet Excel 97 workbook (``.xls``) with ``xlwt``: a header row, then ``rows``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlwt.Workbook(encoding="utf-8")
    sheet = workbook.add_sheet(sheet_name)
    for column, name in enumerate(header):
        sheet.write(0, column, name)
    for row_index, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            sheet.write(row_index, column, value)
    workbook.save(str(path))
