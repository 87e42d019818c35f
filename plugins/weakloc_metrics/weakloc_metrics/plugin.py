"""Entry point of the ``weakloc_metrics`` plugin: registers its components with the host registry.

Under kind ``metric``: the cumulative metric classes, the functions the host's evaluation calls (by their own
names, e.g. ``compute_quadratic_weighted_kappa``) and the Ignite handlers that bundle configs build (names
ending in ``_handler``).
"""

from __future__ import annotations

from monai_weakloc.registry import Registry
from weakloc_metrics.box_accuracy import BoxAccuracyMetric, compute_box_accuracy
from weakloc_metrics.froc import HeatmapFROCMetric
from weakloc_metrics.grading import (
    ClassConfusionMatrixMetric,
    QuadraticWeightedKappaMetric,
    SingleLabelAccuracyMetric,
    WithinOneGradeAccuracyMetric,
    compute_accuracy,
    compute_class_confusion_matrix,
    compute_quadratic_weighted_kappa,
    compute_within_one_grade_accuracy,
)
from weakloc_metrics.handlers import PerClassROCAUC, PixelPR, QuadraticWeightedKappa, SingleLabelAccuracy
from weakloc_metrics.iom_recall import IoMRecallMetric, compute_iom_recall, compute_iom_recall_curve
from weakloc_metrics.maxboxacc import MaxBoxAccuracyMetric, compute_box_accuracy_curves_by_version
from weakloc_metrics.pointing import (
    PointingLocalizationMetric,
    compute_localization_ap,
    compute_pointing_accuracy,
    locate_activation_peak,
    point_in_boxes,
)
from weakloc_metrics.roc import (
    PerClassROCAUCMetric,
    ReferableROCAUCMetric,
    SensitivityAtSpecificityMetric,
    compute_per_class_roc_auc,
    compute_referable_roc_auc,
    compute_sensitivity_at_specificity,
    probability_of_grade_at_least,
)
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
    registry.register("metric", "compute_quadratic_weighted_kappa", compute_quadratic_weighted_kappa)
    registry.register("metric", "compute_accuracy", compute_accuracy)
    registry.register("metric", "compute_within_one_grade_accuracy", compute_within_one_grade_accuracy)
    registry.register("metric", "compute_class_confusion_matrix", compute_class_confusion_matrix)
    registry.register("metric", "compute_per_class_roc_auc", compute_per_class_roc_auc)
    registry.register("metric", "compute_sensitivity_at_specificity", compute_sensitivity_at_specificity)
    registry.register("metric", "compute_referable_roc_auc", compute_referable_roc_auc)
    registry.register("metric", "probability_of_grade_at_least", probability_of_grade_at_least)
    registry.register("metric", "compute_iom_recall_curve", compute_iom_recall_curve)
    registry.register("metric", "compute_iom_recall", compute_iom_recall)
    registry.register("metric", "compute_box_accuracy", compute_box_accuracy)
    registry.register("metric", "compute_box_accuracy_curves_by_version", compute_box_accuracy_curves_by_version)
    registry.register("metric", "locate_activation_peak", locate_activation_peak)
    registry.register("metric", "point_in_boxes", point_in_boxes)
    registry.register("metric", "compute_pointing_accuracy", compute_pointing_accuracy)
    registry.register("metric", "compute_localization_ap", compute_localization_ap)
    registry.register("metric", "quadratic_weighted_kappa_handler", QuadraticWeightedKappa)
    registry.register("metric", "accuracy_handler", SingleLabelAccuracy)
    registry.register("metric", "pixel_pr_handler", PixelPR)
    registry.register("metric", "roc_auc_handler", PerClassROCAUC)
