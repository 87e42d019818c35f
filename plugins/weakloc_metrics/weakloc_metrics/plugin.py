"""Entry point of the ``weakloc_metrics`` plugin: registers its components with the host registry."""

from __future__ import annotations

from monai_weakloc.registry import Registry
from weakloc_metrics.box_accuracy import BoxAccuracyMetric
from weakloc_metrics.froc import HeatmapFROCMetric
from weakloc_metrics.grading import (
    ClassConfusionMatrixMetric,
    QuadraticWeightedKappaMetric,
    SingleLabelAccuracyMetric,
    WithinOneGradeAccuracyMetric,
)
from weakloc_metrics.iom_recall import IoMRecallMetric
from weakloc_metrics.maxboxacc import MaxBoxAccuracyMetric
from weakloc_metrics.pointing import PointingLocalizationMetric
from weakloc_metrics.roc import PerClassROCAUCMetric, ReferableROCAUCMetric, SensitivityAtSpecificityMetric
from weakloc_metrics.segmentation_pr import PixelPRMetric


def register(registry: Registry) -> None:
    """Register every metrics component of this plugin.

    Args:
        registry: the host registry to fill.
    """
    registry.register("metric", "quadratic_weighted_kappa", QuadraticWeightedKappaMetric)
    registry.register("metric", "accuracy", SingleLabelAccuracyMetric)
    registry.register("metric", "within_one_grade_accuracy", WithinOneGradeAccuracyMetric)
    registry.register("metric", "confusion_matrix", ClassConfusionMatrixMetric)
    registry.register("metric", "roc_auc", PerClassROCAUCMetric)
    registry.register("metric", "sensitivity_at_specificity", SensitivityAtSpecificityMetric)
    registry.register("metric", "referable_roc_auc", ReferableROCAUCMetric)
    registry.register("metric", "iom_recall", IoMRecallMetric)
    registry.register("metric", "box_accuracy", BoxAccuracyMetric)
    registry.register("metric", "max_box_accuracy", MaxBoxAccuracyMetric)
    registry.register("metric", "heatmap_froc", HeatmapFROCMetric)
    registry.register("metric", "pixel_pr", PixelPRMetric)
    registry.register("metric", "pointing_localization", PointingLocalizationMetric)
