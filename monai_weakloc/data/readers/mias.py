"""MIAS / mini-MIAS mammograms as distributed.

Layout: ``Info.txt`` and the images ``mdbNNN.pgm``. ``Info.txt`` has one line per abnormality,
``REFNUM BG CLASS SEVERITY X Y RADIUS`` (e.g. ``mdb001 G CIRC B 535 425 197``), an optional header line
starting with ``REFNUM``; ``NORM`` lines stop after the class, and widely distributed calcifications stop
after the severity (no centre). The centre's ``Y`` is measured from the **bottom** edge of the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from monai_weakloc.data.readers.checks import empty_boxes, problem_log_for
from monai_weakloc.data.readers.files import absolute_root
from monai_weakloc.data.records import ProblemLog

__all__ = ["read_mias", "MIAS_CLASSES"]

INFO_FILE = "Info.txt"
MIAS_CLASSES = ("CALC", "CIRC", "SPIC", "MISC", "ARCH", "ASYM", "NORM")
BACKGROUNDS = ("F", "G", "D")
SEVERITIES = ("B", "M")
LINE_FORMAT = "REFNUM BG CLASS [SEVERITY [X Y RADIUS]]"


@dataclass
class _Film:
    """What ``Info.txt`` says of one film, gathered over its lines."""

    refnum: str
    background: str
    first_row: int
    normal_row: int | None = None
    abnormalities: list[str] = field(default_factory=list)
    severities: list[str] = field(default_factory=list)
    centres: list[tuple[str, int, int, int]] = field(default_factory=list)


def _parse_line(tokens: list[str], info: Path, number: int, log: ProblemLog) -> tuple | None:
    """``(refnum, background, class, severity, centre)`` of one line, ``centre`` = ``(x, y, radius)`` or None."""
    line = " ".join(tokens)
    if len(tokens) not in (3, 4, 7):
        log.report(info, number, f"malformed line {line!r}: expected {LINE_FORMAT}")
        return None
    refnum, background, abnormality = tokens[:3]
    if background not in BACKGROUNDS or abnormality not in MIAS_CLASSES:
        expected = f"BG must be one of {BACKGROUNDS}, CLASS one of {MIAS_CLASSES}"
        log.report(info, number, f"malformed line {line!r}: {expected}")
        return None
    if (abnormality == "NORM") != (len(tokens) == 3):
        log.report(info, number, f"malformed line {line!r}: only NORM lines stop after the class")
        return None
    if abnormality == "NORM":
        return refnum, background, abnormality, None, None
    if tokens[3] not in SEVERITIES:
        log.report(info, number, f"malformed line {line!r}: SEVERITY must be B or M")
        return None
    if len(tokens) == 4:
        return refnum, background, abnormality, tokens[3], None
    try:
        x, y, radius = (int(token) for token in tokens[4:])
    except ValueError:
        log.report(info, number, f"malformed line {line!r}: X, Y and RADIUS must be integers")
        return None
    if x < 0 or y < 0 or radius <= 0:
        log.report(info, number, f"malformed line {line!r}: X and Y must be >= 0 and RADIUS > 0")
        return None
    return refnum, background, abnormality, tokens[3], (x, y, radius)


def _read_info(info: Path, log: ProblemLog) -> list[_Film]:
    """The films of ``Info.txt`` in order of first appearance."""
    films: dict[str, _Film] = {}
    for number, text in enumerate(info.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        tokens = text.split()
        if not tokens or tokens[0].upper() == "REFNUM":
            continue
        parsed = _parse_line(tokens, info, number, log)
        if parsed is None:
            continue
        refnum, background, abnormality, severity, centre = parsed
        film = films.setdefault(refnum, _Film(refnum, background, number))
        if film.normal_row is not None:
            log.report(info, number, f"{refnum} is already listed as NORM in row {film.normal_row}")
            continue
        if abnormality == "NORM" and film.abnormalities:
            log.report(info, number, f"{refnum} is NORM here but has an abnormality in row {film.first_row}")
            continue
        if abnormality == "NORM":
            film.normal_row = number
            continue
        film.abnormalities.append(abnormality)
        film.severities.append(severity)
        if centre is not None:
            film.centres.append((abnormality, *centre))
    return list(films.values())


def _image_height(image: Path, log: ProblemLog) -> int | None:
    """Height in pixels from the image header (PIL opens lazily: the pixels are not decoded)."""
    try:
        with Image.open(image) as opened:
            return opened.height
    except (UnidentifiedImageError, OSError) as error:
        log.report(image, None, f"cannot read the image header for its height: {error}")
        return None


def read_mias(
    root: str | Path,
    *,
    on_error: str = "raise",
    problems: ProblemLog | None = None,
    image_dir: str | Path | None = None,
    image_height: int | None = None,
) -> list[dict]:
    """Read MIAS: one record per film, label 1 when it has an abnormality, boxes around the marked centres.

    Each abnormality with a centre becomes a square box of side ``2 * RADIUS`` around it, converted to a
    top-left origin: ``x = X - RADIUS``, ``y = height - Y - RADIUS``. Boxes are not clipped to the image.

    Args:
        root: the folder holding ``Info.txt``.
        on_error: ``"raise"`` or ``"skip"`` (log and skip bad lines), see :class:`ProblemLog`.
        problems: a log to report to instead of a new ``ProblemLog(on_error)``.
        image_dir: the folder of the ``mdbNNN.pgm`` images (default ``root``).
        image_height: the height of every image in pixels (mini-MIAS: 1024); ``None`` reads each image's
            height from its header.

    Returns:
        Records with ``image``, ``id`` (e.g. ``mdb001``), ``label`` (0 normal, 1 abnormal), ``boxes``
        (float32 (N, 4), ``x, y, w, h``), ``box_labels`` (the N classes, e.g. ``CIRC``), ``abnormalities``
        (the classes of every abnormality line, with or without a centre), ``severity`` (``M`` if any
        abnormality is malignant, ``B`` if benign, ``None`` for normal films) and ``background`` (``F``,
        ``G`` or ``D``), in ``Info.txt`` order.

    Raises:
        ValueError: for an ``image_height`` that is not positive; and, with ``on_error="raise"``, for the
            first problem in the data.
    """
    if image_height is not None and image_height <= 0:
        raise ValueError(f"MIAS image_height must be positive, got {image_height}")
    log = problem_log_for(on_error, problems)
    base = absolute_root(root)
    images_folder = absolute_root(image_dir) if image_dir is not None else base
    info = base / INFO_FILE
    if not info.is_file():
        log.report(info, None, "label file not found")
        return []
    records = []
    for film in _read_info(info, log):
        image = images_folder / f"{film.refnum}.pgm"
        if not image.is_file():
            log.report(info, film.first_row, f"image file not found: {image}", film.refnum)
            continue
        height = image_height if image_height is not None else _image_height(image, log)
        if height is None:
            continue
        boxes = [(x - radius, height - y - radius, 2 * radius, 2 * radius) for _, x, y, radius in film.centres]
        severity = "M" if "M" in film.severities else ("B" if film.severities else None)
        records.append(
            {
                "image": str(image),
                "id": film.refnum,
                "label": int(bool(film.abnormalities)),
                "boxes": np.asarray(boxes, dtype=np.float32) if boxes else empty_boxes(),
                "box_labels": [abnormality for abnormality, *_ in film.centres],
                "abnormalities": list(film.abnormalities),
                "severity": severity,
                "background": film.background,
            }
        )
    return records
