"""Check image files before training: readable, the expected colour mode, large enough.

Readers check that files exist but do not decode them; a bundle calls :func:`check_images` on its records
so that a corrupt, grayscale, RGBA or too-small image is reported by name before training starts (or
skipped and logged, with ``on_error="skip"``), instead of failing deep inside a data-loader worker.
PIL reads the header and verifies the file without decoding the pixels; formats PIL does not read
(NIfTI, DICOM) are decoded with :class:`monai_weakloc.transforms.LoadImage2D`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from monai_weakloc.data.records import ProblemLog

__all__ = ["CHECK_MODES", "check_images"]

CHECK_MODES = ("rgb", "gray", "any")
_PIL_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pgm", ".ppm", ".bmp"}
_MODE_NAMES = {"L": "grayscale", "I": "grayscale", "I;16": "grayscale", "F": "grayscale", "1": "binary", "LA": "grayscale with alpha",
               "P": "palette", "RGBA": "RGBA", "RGB": "RGB", "CMYK": "CMYK"}


def _channels_and_size(path: Path) -> tuple[str, int, int]:
    """(mode name, height, width) of an image file; raises on unreadable files."""
    if path.suffix.lower() in _PIL_SUFFIXES:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            return image.mode, image.height, image.width
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
) -> list[dict]:
    """Check the image files of ``records`` and return the records whose images are all fine.

    Args:
        records: records with image paths under ``keys``.
        keys: the record keys holding image paths (``None`` values are not checked).
        mode: ``"rgb"`` (a grayscale, palette or RGBA file is a problem), ``"gray"`` (a colour file is a
            problem) or ``"any"``.
        min_size: smallest allowed (height, width), or one number for both.
        on_error: ``"raise"`` raises ``ValueError`` naming the file and the problem; ``"skip"`` logs it and
            leaves the record out.
        problems: a log to report to instead of a new ``ProblemLog(on_error)``.

    Returns:
        the records that passed, in order.
    """
    if mode not in CHECK_MODES:
        raise ValueError(f"check_images: mode must be one of {CHECK_MODES}, got {mode!r}")
    min_height, min_width = (min_size, min_size) if isinstance(min_size, int) else (int(min_size[0]), int(min_size[1]))
    log = problems if problems is not None else ProblemLog(on_error)
    kept = []
    for record in records:
        fine = True
        for key in keys:
            if record.get(key) is None:
                continue
            path = Path(record[key])
            message = _problem(path, mode, min_height, min_width)
            if message is not None:
                log.report(path, None, message)
                fine = False
        if fine:
            kept.append(record)
    return kept


def _problem(path: Path, mode: str, min_height: int, min_width: int) -> str | None:
    if not path.is_file():
        return "image file does not exist"
    try:
        image_mode, height, width = _channels_and_size(path)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, RuntimeError) as err:
        return f"corrupt or unreadable image ({type(err).__name__}: {err})"
    described = _MODE_NAMES.get(image_mode, image_mode)
    if mode == "rgb" and image_mode != "RGB":
        return f"{described} image where RGB is expected"
    if mode == "gray" and image_mode not in {"L", "I", "I;16", "F", "1"}:
        return f"{described} image where grayscale is expected"
    if height < min_height or width < min_width:
        return f"image of {width} x {height} px is smaller than the {min_width} x {min_height} px the network needs"
    return None
