"""Readers for the public dataset layouts: each returns MONAI-style records (see ``data/records.py``)."""

from __future__ import annotations

from monai_weakloc.data.readers.cbis_ddsm import read_cbis_ddsm
from monai_weakloc.data.readers.chestxray14 import CHESTXRAY14_LABELS, read_chestxray14
from monai_weakloc.data.readers.csv_layout import read_csv
from monai_weakloc.data.readers.dispatch import READERS, read_dataset
from monai_weakloc.data.readers.eyepacs import read_eyepacs
from monai_weakloc.data.readers.idrid import IDRID_LESIONS, IDRID_TASKS, read_idrid
from monai_weakloc.data.readers.image_list import read_image_list
from monai_weakloc.data.readers.lesion_boxes import read_lesion_boxes
from monai_weakloc.data.readers.messidor import read_messidor
from monai_weakloc.data.readers.mias import read_mias
from monai_weakloc.data.readers.tb_cxr import read_tb_cxr

__all__ = [
    "CHESTXRAY14_LABELS",
    "IDRID_LESIONS",
    "IDRID_TASKS",
    "READERS",
    "read_cbis_ddsm",
    "read_chestxray14",
    "read_csv",
    "read_dataset",
    "read_eyepacs",
    "read_idrid",
    "read_image_list",
    "read_lesion_boxes",
    "read_messidor",
    "read_mias",
    "read_tb_cxr",
]
