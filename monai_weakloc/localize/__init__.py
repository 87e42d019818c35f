"""Heatmap to regions: region sampling, boxes, points, crops, border rule, saliency, CAM, clustering; the
:class:`Localization` every localizer returns, and the generic gradient localizer.

Coordinates follow :mod:`monai_weakloc.localize.region` (x along columns, pixel centres at ``i + 0.5``,
boxes ``(x0, y0, x1, y1)`` with exclusive ends).
"""

from __future__ import annotations

from monai_weakloc.localize.border import border_margins, exclude_border, filter_border
from monai_weakloc.localize.cam import class_activation_maps, spatial_softmax
from monai_weakloc.localize.clustering import ClusterMember, cluster_attention_regions
from monai_weakloc.localize.components import heatmap_to_boxes
from monai_weakloc.localize.crop import CropBatch, crop_around, crop_around_batch, crop_box
from monai_weakloc.localize.gradient_localizer import SALIENCY_METHODS, GradientLocalizer
from monai_weakloc.localize.geometry import input_boxes_to_original, input_points_to_original
from monai_weakloc.localize.heatmap import heatmap_batch, resize_heatmaps
from monai_weakloc.localize.localization import PROBABILITY_KINDS, Detections, Localization, Localizer
from monai_weakloc.localize.peaks import heatmap_to_points
from monai_weakloc.localize.region import Point, Region, scale_point, scale_region
from monai_weakloc.localize.region_sampling import sample_regions
from monai_weakloc.localize.saliency import (
    gradient_saliency,
    guided_backprop_saliency,
    guided_relu_hooks,
    input_gradients,
)

__all__ = [
    "PROBABILITY_KINDS",
    "SALIENCY_METHODS",
    "ClusterMember",
    "CropBatch",
    "Detections",
    "GradientLocalizer",
    "Localization",
    "Localizer",
    "Point",
    "Region",
    "border_margins",
    "class_activation_maps",
    "cluster_attention_regions",
    "crop_around",
    "crop_around_batch",
    "crop_box",
    "exclude_border",
    "filter_border",
    "gradient_saliency",
    "guided_backprop_saliency",
    "guided_relu_hooks",
    "heatmap_batch",
    "heatmap_to_boxes",
    "heatmap_to_points",
    "input_boxes_to_original",
    "input_points_to_original",
    "input_gradients",
    "resize_heatmaps",
    "sample_regions",
    "scale_point",
    "scale_region",
    "spatial_softmax",
]
