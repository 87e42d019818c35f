"""Datasets: records and readers for the public layouts (``monai_weakloc.data.readers``)."""

from __future__ import annotations

from monai_weakloc.data.fellow_eyes import pair_fellow_eyes
from monai_weakloc.data.readers import (
    CHESTXRAY14_LABELS,
    READERS,
    read_cbis_ddsm,
    read_chestxray14,
    read_csv,
    read_dataset,
    read_eyepacs,
    read_idrid,
    read_image_list,
    read_lesion_boxes,
    read_messidor,
    read_mias,
    read_tb_cxr,
)
from monai_weakloc.data.records import ON_ERROR_CHOICES, DataProblem, ProblemLog
from monai_weakloc.data.split_reading import split_records

__all__ = [
    "CHESTXRAY14_LABELS",
    "ON_ERROR_CHOICES",
    "READERS",
    "DataProblem",
    "ProblemLog",
    "pair_fellow_eyes",
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
    "split_records",
]
