"""Check image files before training: readable, the expected colour mode, large enough.

Readers check that files exist but do not decode them; a bundle calls :func:`check_images` on its records
so that a corrupt, grayscale, RGBA or too-small image is reported by name before training starts (or
skipped and logged, with ``on_error="skip"``), instead of failing deep inside a data-loader worker.

Every file is decoded once: PIL's ``verify()`` checks PNG chunks but reads no JPEG pixel data, so a
truncated JPEG (the usual result of an interrupted download) only fails on decoding. JPEGs are decoded
in PIL's draft mode (DCT scaling to 1/8 of the size), which reads the whole compressed stream at about
half the cost of a full decode; files are decoded on a few threads (PIL releases the GIL while decoding).
Formats PIL does not read (NIfTI, DICOM) are decoded with :class:`monai_weakloc.transforms.LoadImage2D`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from monai_weakloc.data.records import ProblemLog

__all__ = ["CHECK_MODES", "check_images"]

CHECK_MODES = ("rgb", "gray", "any")
MAX_CHECK_THREADS = 8
JPEG_DRAFT_SCALE = 8
_PIL_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pgm", ".ppm", ".bmp"}
_GRAY_MODES = {"L", "I", "I;16", "F", "1"}
_MODE_NAMES = {
    "L": "grayscale",
    "I": "grayscale",
    "I;16": "grayscale",
    "F": "grayscale",
    "1": "binary",
    "LA": "grayscale with alpha",
    "P": "palette",
    "RGBA": "RGBA",
    "RGB": "RGB",
    "CMYK": "CMYK",
}


def _decode_pil(path: Path) -> tuple[str, int, int]:
    """(PIL mode, height, width) of a file PIL reads, after decoding all of its pixel data."""
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        mode, height, width = image.mode, image.height, image.width
        if image.format == "JPEG":
            image.draft(mode, (max(1, width // JPEG_DRAFT_SCALE), max(1, height // JPEG_DRAFT_SCALE)))
        image.load()
    return mode, height, width


def _channels_and_size(path: Path) -> tuple[str, int, int]:
    """(mode, height, width) of an image file, decoded in full; raises on unreadable files."""
    if path.suffix.lower() in _PIL_SUFFIXES:
        return _decode_pil(path)
    from monai_weakloc.transforms import LoadImage2D

    pixels = LoadImage2D(mode="keep")(path)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(pixels.shape[0], f"{pixels.shape[0]} channels")
    return mode, int(pixels.shape[-2]), int(pixels.shape[-1])


def check_images(
    records: Sequence[dict],
    keys: Sequence[str] = ("image",),
    mode: str = "rgb",
    min_size: int | Sequence[int] = 1,
    on_error: str = "raise",
    problems: ProblemLog | None = None,
    num_threads: int | None = None,
) -> list[dict]:
    """Check the image files of ``records`` and return the records whose images are all fine.

    Each distinct file is decoded once, even when several records name it (an EyePACS image is also its
    fellow eye's ``fellow``). A record is left out when any of its files has a problem; a problem found
    under a key other than ``"image"`` names the record it was found for.

    Args:
        records: records with image paths under ``keys``.
        keys: the record keys holding image paths (``None`` values are not checked).
        mode: ``"rgb"`` (a grayscale, palette or RGBA file is a problem), ``"gray"`` (a colour file is a
            problem) or ``"any"``.
        min_size: smallest allowed (height, width), or one number for both.
        on_error: ``"raise"`` raises ``ValueError`` naming the file and the problem; ``"skip"`` logs it and
            leaves the record out.
        problems: a log to report to instead of a new ``ProblemLog(on_error)``.
        num_threads: threads decoding the files; default ``min(8, os.cpu_count())``.

    Returns:
        the records that passed, in order.

    Raises:
        ValueError: on a bad ``mode`` or ``num_threads``; with ``on_error="raise"``, on the first record (in
            order) with a problem, naming the file and the problem.
    """
    if mode not in CHECK_MODES:
        raise ValueError(f"check_images: mode must be one of {CHECK_MODES}, got {mode!r}")
    if num_threads is not None and num_threads < 1:
        raise ValueError(f"check_images: num_threads must be at least 1, got {num_threads}")
    min_height, min_width = (min_size, min_size) if isinstance(min_size, int) else (int(min_size[0]), int(min_size[1]))
    log = problems if problems is not None else ProblemLog(on_error)
    paths = list(dict.fromkeys(Path(record[key]) for record in records for key in keys if record.get(key) is not None))
    threads = num_threads if num_threads is not None else min(MAX_CHECK_THREADS, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        found = dict(zip(paths, pool.map(lambda path: _problem(path, mode, min_height, min_width), paths)))
    kept = []
    for record in records:
        fine = True
        for key in keys:
            if record.get(key) is None:
                continue
            path = Path(record[key])
            if found[path] is not None:
                owner = "" if key == "image" else f" (the {key!r} of {record.get('id', record.get('image'))})"
                log.report(path, None, found[path] + owner)
                fine = False
        if fine:
            kept.append(record)
    return kept


def _problem(path: Path, mode: str, min_height: int, min_width: int) -> str | None:
    """What is wrong with the image file ``path``, or ``None`` when it is fine."""
    if not path.is_file():
        return "image file does not exist"
    try:
        image_mode, height, width = _channels_and_size(path)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, RuntimeError) as err:
        return f"corrupt or unreadable image ({type(err).__name__}: {err})"
    described = _MODE_NAMES.get(image_mode, image_mode)
    if mode == "rgb" and image_mode != "RGB":
        return f"{described} image where RGB is expected"
    if mode == "gray" and image_mode not in _GRAY_MODES:
        return f"{described} image where grayscale is expected"
    if height < min_height or width < min_width:
        return f"image of {width} x {height} px is smaller than the {min_width} x {min_height} px the network needs"
    return None
