"""Readers by layout name, for configs and the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from monai_weakloc.data.readers.cbis_ddsm import read_cbis_ddsm
from monai_weakloc.data.readers.chestxray14 import read_chestxray14
from monai_weakloc.data.readers.csv_layout import read_csv
from monai_weakloc.data.readers.eyepacs import read_eyepacs
from monai_weakloc.data.readers.idrid import read_idrid
from monai_weakloc.data.readers.lesion_boxes import read_lesion_boxes
from monai_weakloc.data.readers.messidor import read_messidor
from monai_weakloc.data.readers.mias import read_mias
from monai_weakloc.data.readers.tb_cxr import read_tb_cxr

__all__ = ["READERS", "read_dataset"]

READERS: dict[str, Callable[..., list[dict]]] = {
    "eyepacs": read_eyepacs,
    "messidor": read_messidor,
    "idrid": read_idrid,
    "chestxray14": read_chestxray14,
    "tb_cxr": read_tb_cxr,
    "mias": read_mias,
    "cbis_ddsm": read_cbis_ddsm,
    "csv": read_csv,
    "lesion_boxes": read_lesion_boxes,
}


def read_dataset(layout: str, root: str | Path, **kwargs) -> list[dict]:
    """Read the dataset at ``root`` with the reader of ``layout``.

    Args:
        layout: a key of :data:`READERS`, e.g. ``"eyepacs"``.
        root: the dataset folder (for ``csv`` and ``lesion_boxes``, the CSV file may be given).
        kwargs: ``on_error``, ``problems`` and the layout's own options (e.g. ``task="grading"`` for IDRiD).

    Returns:
        The reader's records (see :mod:`monai_weakloc.data.records`).

    Raises:
        ValueError: for an unknown layout, naming the known ones.
    """
    if layout not in READERS:
        raise ValueError(f"unknown dataset layout {layout!r}; known layouts: {', '.join(READERS)}")
    return READERS[layout](root, **kwargs)
