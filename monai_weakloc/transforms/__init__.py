"""Fundus and X-ray preprocessing as MONAI transforms, each with a dictionary twin ending in ``d``."""

from __future__ import annotations

from monai_weakloc.transforms.border_crop import CROP_BOX_META_KEY, FundusBorderCrop, FundusBorderCropd
from monai_weakloc.transforms.field_of_view import (
    FIELD_OF_VIEW_KEY,
    FOREGROUND_METHODS,
    ForegroundFieldOfView,
    ForegroundFieldOfViewd,
    FundusFieldOfView,
    FundusFieldOfViewd,
)
from monai_weakloc.transforms.intensity_stretch import PercentileStretch, PercentileStretchd
from monai_weakloc.transforms.lesion_mask import LoadLesionMaskd
from monai_weakloc.transforms.load_2d import (
    LOAD_MODES,
    ORIGINAL_CHANNELS_META_KEY,
    ORIGINAL_SIZE_META_KEY,
    SUPPORTED_SUFFIXES,
    LoadImage2D,
    LoadImage2Dd,
)
from monai_weakloc.transforms.local_contrast import FundusLocalContrast, FundusLocalContrastd
from monai_weakloc.transforms.mean_image import (
    SubtractMeanImage,
    SubtractMeanImaged,
    compute_mean_image,
    load_mean_image,
    save_mean_image,
)

__all__ = [
    "CROP_BOX_META_KEY",
    "FIELD_OF_VIEW_KEY",
    "FOREGROUND_METHODS",
    "LOAD_MODES",
    "ORIGINAL_CHANNELS_META_KEY",
    "ORIGINAL_SIZE_META_KEY",
    "SUPPORTED_SUFFIXES",
    "ForegroundFieldOfView",
    "ForegroundFieldOfViewd",
    "FundusBorderCrop",
    "FundusBorderCropd",
    "FundusFieldOfView",
    "FundusFieldOfViewd",
    "FundusLocalContrast",
    "FundusLocalContrastd",
    "LoadImage2D",
    "LoadImage2Dd",
    "LoadLesionMaskd",
    "PercentileStretch",
    "PercentileStretchd",
    "SubtractMeanImage",
    "SubtractMeanImaged",
    "compute_mean_image",
    "load_mean_image",
    "save_mean_image",
]
