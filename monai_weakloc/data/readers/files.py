"""Listing the image files of a dataset folder once, so that readers check existence without a stat per row."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["absolute_root", "index_files"]


def absolute_root(root: str | Path) -> Path:
    """``root`` as an absolute, normalised path (symbolic links kept), so that records hold absolute paths."""
    return Path(os.path.abspath(os.fspath(root)))


def index_files(folder: Path, suffixes: Iterable[str]) -> dict[str, Path]:
    """The files directly in ``folder`` whose suffix is one of ``suffixes`` (case-insensitive).

    Args:
        folder: the folder to list (not recursive); a missing folder gives an empty index.
        suffixes: suffixes with the dot, e.g. ``(".jpeg",)``.

    Returns:
        File name -> absolute path.
    """
    wanted = {suffix.lower() for suffix in suffixes}
    if not folder.is_dir():
        return {}
    with os.scandir(folder) as entries:
        return {
            entry.name: folder / entry.name
            for entry in entries
            if entry.is_file() and os.path.splitext(entry.name)[1].lower() in wanted
        }
