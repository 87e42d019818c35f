"""Chest X-ray tuberculosis sets (Shenzhen ``CHNCXR_*``, Montgomery ``MCUCXR_*``) as distributed.

Layout: ``CXR_png/CHNCXR_0001_0.png`` (or the PNGs directly in the root folder). The last digit of the
file name is the label: 0 normal, 1 tuberculosis.
"""

from __future__ import annotations

import re
from pathlib import Path

from monai_weakloc.data.readers.checks import problem_log_for
from monai_weakloc.data.readers.files import absolute_root, index_files
from monai_weakloc.data.records import ProblemLog

__all__ = ["read_tb_cxr"]

IMAGE_FOLDER = "CXR_png"
LABELLED_STEM = re.compile(r"^(?P<source>[^_]+)_.*_(?P<digit>\d)$")


def read_tb_cxr(root: str | Path, *, on_error: str = "raise", problems: ProblemLog | None = None) -> list[dict]:
    """Read a chest X-ray TB set: one record per PNG, labelled by the last digit of its name.

    Args:
        root: the folder holding ``CXR_png/`` or the PNG files themselves.
        on_error: ``"raise"`` or ``"skip"`` (log and skip bad files), see :class:`ProblemLog`.
        problems: a log to report to instead of a new ``ProblemLog(on_error)``.

    Returns:
        Records with ``image``, ``id`` (e.g. ``CHNCXR_0001_0``), ``label`` (0 normal, 1 TB) and ``source``
        (the name's prefix, ``CHNCXR`` for Shenzhen, ``MCUCXR`` for Montgomery), sorted by file name.

    Raises:
        ValueError: with ``on_error="raise"``, for the first problem in the data.
    """
    log = problem_log_for(on_error, problems)
    base = absolute_root(root)
    folder = base / IMAGE_FOLDER if (base / IMAGE_FOLDER).is_dir() else base
    images = index_files(folder, (".png",))
    broken_links = sorted(path for path in folder.glob("*") if path.suffix.lower() == ".png" and path.is_symlink()
                          and not path.exists()) if folder.is_dir() else []
    for link in broken_links:  # index_files lists files only: a link to a missing image would vanish unnoticed
        log.report(link, None, "image file does not exist (a link to a missing file)")
    if not images and not broken_links:
        log.report(folder, None, f"no PNG images found (looked in {IMAGE_FOLDER}/ and in the folder itself)")
        return []
    records = []
    for name, image in sorted(images.items()):
        stem = Path(name).stem
        match = LABELLED_STEM.match(stem)
        if match is None:
            log.report(image, None, "file name does not end in _0 (normal) or _1 (TB)")
            continue
        if match["digit"] not in ("0", "1"):
            log.report(image, None, f"label digit {match['digit']} is not 0 (normal) or 1 (TB)")
            continue
        records.append({"image": str(image), "id": stem, "label": int(match["digit"]), "source": match["source"]})
    return records
