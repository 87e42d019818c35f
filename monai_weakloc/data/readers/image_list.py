"""Images given as a list, in no dataset layout and without labels: folders, image files, CSV lists.

For running a trained model on a user's own images (``weakloc predict``). Each path given is one of:

- a folder: every image file under it, searched recursively (files of other types are left aside, and
  counted in the log), in path order;
- a CSV file (suffix ``.csv``): one image per row of its ``image`` column, a path relative to the CSV's
  folder or absolute, in row order (other columns are ignored);
- an image file: any type :class:`monai_weakloc.transforms.LoadImage2D` reads (PNG, JPEG, TIFF, BMP,
  PGM/PPM, DICOM, NIfTI), at any size, gray or colour.

An image's ``id`` is its file name without the extension (``.nii.gz`` counts as one): ``10_left`` for
``scans/10_left.jpeg``. The outputs are named by id, so two files with the same id are a problem, named
with both files. Images named the EyePACS way, ``<patient>_left`` and ``<patient>_right``, are each
other's fellow eye.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from monai_weakloc.data.fellow_eyes import fellow_eye_images, pair_fellow_eyes
from monai_weakloc.data.image_checks import check_images
from monai_weakloc.data.readers.checks import IdRegistry, problem_log_for
from monai_weakloc.data.readers.files import absolute_root
from monai_weakloc.data.readers.tables import read_csv_table
from monai_weakloc.data.records import ProblemLog

__all__ = ["IMAGE_LIST_COLUMN", "image_file_id", "list_image_files", "read_image_list"]

logger = logging.getLogger(__name__)

IMAGE_LIST_COLUMN = "image"
CSV_SUFFIX = ".csv"


def _image_suffix(path: Path) -> str | None:
    """The suffix by which :class:`~monai_weakloc.transforms.LoadImage2D` reads ``path``, or ``None``."""
    # imported here: the transforms pull in MONAI's transforms, which the readers need not load
    from monai_weakloc.transforms.load_2d import SUPPORTED_SUFFIXES, file_suffix

    suffix = file_suffix(path)
    return suffix if suffix in SUPPORTED_SUFFIXES else None


def image_file_id(path: str | Path) -> str:
    """The id of an image file: its name without the extension (``.nii.gz`` counts as one extension).

    Args:
        path: an image file, e.g. ``scans/10_left.jpeg`` or ``ct/slice_3.nii.gz``.

    Returns:
        e.g. ``10_left``, ``slice_3``.
    """
    name = Path(path).name
    suffix = _image_suffix(Path(path)) or Path(path).suffix
    return name[: len(name) - len(suffix)] if suffix else name


def _folder_images(folder: Path) -> list[Path]:
    """The image files under ``folder`` (recursive, hidden entries left aside), sorted by path."""
    images = []
    others = 0
    for parent, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            path = Path(parent) / name
            if _image_suffix(path) is not None:
                images.append(path)
            else:
                others += 1
    if others:
        logger.info("%s: left aside %d file(s) that are not images of a supported type", folder, others)
    return sorted(images)


def _unsupported_type(path: Path) -> str:
    """The problem of a file whose type no reader of :class:`~monai_weakloc.transforms.LoadImage2D` takes."""
    from monai_weakloc.transforms.load_2d import SUPPORTED_SUFFIXES

    return f"{path.name} is not an image file of a supported type ({', '.join(SUPPORTED_SUFFIXES)})"


def _csv_images(table: Path, problems: ProblemLog) -> list[Path]:
    """The image files a CSV lists in its ``image`` column; empty cells, missing files and other types are problems."""
    rows = read_csv_table(table, (IMAGE_LIST_COLUMN,), problems)
    if rows is None:
        return []
    images = []
    for row in rows:
        name = row.values[IMAGE_LIST_COLUMN]
        if not name:
            problems.report(table, row.number, f"{IMAGE_LIST_COLUMN} is empty")
            continue
        image = absolute_root(table.parent / name)
        if not image.is_file():
            problems.report(table, row.number, f"image file not found: {image}")
            continue
        if _image_suffix(image) is None:
            problems.report(table, row.number, _unsupported_type(image))
            continue
        images.append(image)
    return images


def list_image_files(paths: Sequence[str | Path], problems: ProblemLog) -> list[Path]:
    """The image files that ``paths`` name, in the order given (a folder's files in path order).

    Args:
        paths: folders (searched recursively), CSV files with an ``image`` column, and image files.
        problems: where a missing path, a file of an unsupported type, a bad CSV row or a missing listed
            image is reported (which raises, or logs and leaves it out).

    Returns:
        absolute paths of image files of a supported type, each once (a file named twice is kept at its
        first place).
    """
    images: list[Path] = []
    for given in paths:
        path = absolute_root(given)
        if path.is_dir():
            images.extend(_folder_images(path))
        elif not path.is_file():
            problems.report(path, None, "no such file or folder")
        elif path.suffix.lower() == CSV_SUFFIX:
            images.extend(_csv_images(path, problems))
        elif _image_suffix(path) is None:
            problems.report(path, None, _unsupported_type(path) + " nor a CSV list")
        else:
            images.append(path)
    return list(dict.fromkeys(images))


def read_image_list(
    paths: Sequence[str | Path],
    *,
    min_size: int | Sequence[int] = 1,
    image_mode: str = "any",
    pair_eyes: bool = False,
    on_error: str = "raise",
    problems: ProblemLog | None = None,
) -> list[dict]:
    """Records of the image files ``paths`` name, each image decoded once to check it.

    Args:
        paths: folders (searched recursively), CSV files with an ``image`` column (paths relative to the
            CSV's folder, or absolute) and image files, in any mix.
        min_size: smallest (height, width) in pixels an image must have, or one number for both (the
            network's input, or the patch it slides).
        image_mode: the colour mode each image must have: ``"any"`` (gray or colour; the bundle's loader
            converts), ``"rgb"`` or ``"gray"``, as
            :func:`~monai_weakloc.data.image_checks.check_images` takes it.
        pair_eyes: set each record's ``fellow`` to its fellow eye's image when the names pair the EyePACS
            way (``10_left`` and ``10_right``); an image without one stands in for its fellow itself, which
            :func:`~monai_weakloc.data.pair_fellow_eyes` logs.
        on_error: ``"raise"`` raises ``ValueError`` at the first problem, naming the file and the reason;
            ``"skip"`` logs each problem and leaves the image out.
        problems: a log to report to instead of a new ``ProblemLog(on_error)`` (its ``problems`` then lists
            what was skipped).

    Returns:
        records ``{"image": absolute path, "id": file name without extension}``, plus ``fellow`` (a path)
        with ``pair_eyes``, in the order the images were given.

    Raises:
        ValueError: when ``paths`` name no image file, or none of them can be used; and, with
            ``on_error="raise"``, at the first problem: a path that does not exist, a file of an unsupported
            type, a bad CSV row, two files with the same id (both named), or an image that is unreadable,
            too small or of the wrong colour mode.
    """
    log = problem_log_for(on_error, problems)
    found_before = len(log.problems)
    files = list_image_files(paths, log)
    if not files and len(log.problems) == found_before:
        raise ValueError(f"no image files found in {', '.join(str(path) for path in paths) or '(no paths given)'}")
    ids = IdRegistry(log, "image id")
    records = [
        {"image": str(file), "id": image_file_id(file)} for file in files if ids.add(image_file_id(file), file, None)
    ]
    records = check_images(records, keys=("image",), mode=image_mode, min_size=min_size, problems=log)
    if not records:
        raise ValueError(
            f"none of the images in {', '.join(str(path) for path in paths)} can be used "
            f"({len(log.problems) - found_before} problem(s) logged)"
        )
    if not pair_eyes:
        return records
    fellows = fellow_eye_images(records)
    return pair_fellow_eyes([{**record, "eye_pair": fellow} for record, fellow in zip(records, fellows)])
