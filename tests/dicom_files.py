"""A minimal DICOM file for the tests that read DICOM images (loader, readers, data check, predict)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid


def write_dicom(
    path: Path, pixels: np.ndarray, photometric: str = "MONOCHROME2", bits: int = 8, modality: str = "OT"
) -> None:
    """Write a secondary-capture DICOM file holding the gray ``pixels`` (rows, columns), ``bits`` per pixel."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID, dataset.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    dataset.Modality = modality
    dataset.set_pixel_data(pixels.astype(np.uint8 if bits == 8 else np.uint16), photometric, bits)
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)
