"""Reports: heatmaps as PNG and NIfTI in the original image geometry, overlays, cluster montages and the HTML
report of a run."""

from __future__ import annotations

from monai_weakloc.report.geometry import restore_heatmap_geometry, validate_crop_box
from monai_weakloc.report.heatmap_nifti import write_heatmap_nifti
from monai_weakloc.report.heatmap_png import heatmap_to_uint8, write_heatmap_png
from monai_weakloc.report.html_report import write_report
from monai_weakloc.report.image_display import display_image
from monai_weakloc.report.montage import cluster_montage_rows, write_montage
from monai_weakloc.report.overlay import write_overlay

__all__ = [
    "cluster_montage_rows",
    "display_image",
    "heatmap_to_uint8",
    "restore_heatmap_geometry",
    "validate_crop_box",
    "write_heatmap_nifti",
    "write_heatmap_png",
    "write_montage",
    "write_overlay",
    "write_report",
]
